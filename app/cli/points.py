"""`qunyun points …`: verify the ledger, adjust a member's points, run the expiry job now.

`verify` is read-only and exits 1 when any balance disagrees with the ledger. `award` writes
one audited ledger entry (or nothing, on bad input: one-line error, exit 2). `expire` runs
the daily expiry job once.
"""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import fail, load_settings, open_database
from app.clock import SystemClock
from app.db.session import transaction
from app.jobs.points_expiry import run_points_expiry
from app.services.points import PointsService
from app.services.points_admin import Adjustment, AdminInputError, adjust
from app.services.points_audit import verify_ledger
from app.services.points_config import load_points_config

app = typer.Typer(help="Points ledger (积分).", no_args_is_help=True)


@app.command("verify")
def verify() -> None:
    """Check every balance against the sum of its ledger entries (exit 1 on a mismatch)."""
    with open_database(load_settings()) as factory, transaction(factory) as session:
        report = verify_ledger(session)
    for problem in report.problems:
        print(problem)
    if not report.ok:
        fail(f"ledger check failed: {len(report.problems)} problem(s)", code=1)
    print(
        f"ok: {report.accounts} accounts, {report.entries} entries, "
        f"{report.total_balance} points held; every balance equals its ledger sum"
    )


@app.command("award")
def award(
    user: Annotated[str, typer.Option("--user", help="The member's id on the channel.")],
    delta: Annotated[int, typer.Option(help="Points to add (negative to deduct).")],
    reason: Annotated[str, typer.Option(help="Why (kept in the ledger).")],
    platform: Annotated[str, typer.Option(help="The member's channel.")] = "bridge",
    chat: Annotated[str | None, typer.Option(help="Group the adjustment belongs to.")] = None,
    operator: Annotated[str, typer.Option(help="Who is adjusting.")] = "cli",
    key: Annotated[str | None, typer.Option(help="Idempotency key (retry-safe).")] = None,
) -> None:
    """Award or deduct points by hand, with a reason (audited in the ledger)."""
    settings = load_settings()
    clock = SystemClock()
    request = Adjustment(platform, user, delta, reason, operator, chat, key)
    with open_database(settings) as factory:
        try:
            with transaction(factory) as session:
                points = PointsService(session, load_points_config(), clock, settings.tz)
                result = adjust(points, request, now=clock.now())
        except AdminInputError as error:
            fail(error.reason)
    print(f"{result.status}: {platform}:{user} {delta:+d}, balance {result.balance}")


@app.command("expire")
def expire() -> None:
    """Run the points-expiry job once now (it is idempotent)."""
    settings = load_settings()
    with open_database(settings) as factory:
        report = run_points_expiry(factory, SystemClock(), settings)
    print(
        f"expired {report.points_expired} points of {report.members_expired} members; "
        f"{report.notices} notices queued"
    )
