"""Points benchmark: check-ins/s and ledger writes/s with N concurrent clients (default 8).

    python -m bench.points [--members 2000] [--writes 8000] [--clients 8] [--pg URL]

Runs on a fresh SQLite file and, when a PostgreSQL admin URL is given (--pg, or the
BENCH_DATABASE_URL environment variable), on a fresh PostgreSQL database created for the run
and dropped afterwards. Every operation is one transaction through the real services:
- check-ins: each member sends 签到 once (CheckinService: checkins row, rank counter, ledger);
- ledger writes: PointsService.apply with random credits and debits on a small set of hot
  members (contention on purpose), 5 % of them retries of an earlier key.
At the end the invariant is verified: every balance equals the sum of its entries.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import PointsAccount, PointsEntry
from app.db.session import make_engine, make_session_factory, transaction
from app.messages import ChatRef, Platform, Role
from app.services.checkin import CheckinService
from app.services.members import MembersService
from app.services.points import PointsService
from app.services.points_audit import verify_ledger
from app.services.points_config import load_points_config
from bench.dbs import postgres_database, sqlite_database

TZ = ZoneInfo("Asia/Shanghai")
CLOCK = FixedClock(datetime(2026, 11, 23, 9, 30, tzinfo=TZ))
HOT_MEMBERS = 50
GROUPS = 4


def _seed(factory: sessionmaker[Session], members: int) -> list[tuple[int, int]]:
    """(members.id, chats.id) for `members` members spread over a few groups."""
    seeded: list[tuple[int, int]] = []
    now = CLOCK.now()
    with transaction(factory) as session:
        service = MembersService(session)
        chats = [
            service.ensure_chat(ChatRef(Platform.BRIDGE, f"g-{n}", True, f"群{n}"), now=now)
            for n in range(GROUPS)
        ]
        for n in range(members):
            member = service.ensure_member(
                "bridge", f"u-{n}", name=f"会员{n}", role=Role.MEMBER, now=now
            )
            service.touch(chats[n % GROUPS], member, now=now, counts=False)
            seeded.append((member, chats[n % GROUPS]))
    return seeded


def _points(session: Session) -> PointsService:
    return PointsService(session, load_points_config(), CLOCK, TZ)


def _timed(clients: int, jobs: list[Callable[[], str]]) -> tuple[float, Counter[str]]:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        outcomes = Counter(pool.map(lambda job: job(), jobs))
    return time.perf_counter() - started, outcomes


def _checkin_job(factory: sessionmaker[Session], member: int, chat: int) -> Callable[[], str]:
    def run() -> str:
        with transaction(factory) as session:
            return CheckinService(session, _points(session)).check_in(member, chat).status

    return run


def _write_job(
    factory: sessionmaker[Session], member: int, delta: int, key: str
) -> Callable[[], str]:
    reason = "campaign" if delta > 0 else "redeem"

    def run() -> str:
        with transaction(factory) as session:
            return _points(session).apply(member, delta, reason, key).status

    return run


def _write_jobs(
    factory: sessionmaker[Session], hot: list[int], writes: int
) -> list[Callable[[], str]]:
    rng = random.Random(7)
    keys: list[str] = []
    jobs: list[Callable[[], str]] = []
    for n in range(writes):
        if keys and rng.random() < 0.05:
            key = rng.choice(keys)  # a retried request
        else:
            key = f"bench:{n}"
            keys.append(key)
        delta = rng.choice([rng.randint(1, 30), -rng.randint(1, 20)])
        jobs.append(_write_job(factory, rng.choice(hot), delta, key))
    return jobs


def _invariant(factory: sessionmaker[Session]) -> str:
    with transaction(factory) as session:
        report = verify_ledger(session)
        entries_sum = session.scalar(select(func.coalesce(func.sum(PointsEntry.delta), 0)))
        balances = session.scalar(select(func.coalesce(func.sum(PointsAccount.balance), 0)))
    verdict = "OK" if report.ok and entries_sum == balances else "BROKEN"
    detail = f"sum of entries {entries_sum} = sum of balances {balances}"
    if not report.ok:
        detail += "; " + "; ".join(report.problems[:5])
    return f"invariant {verdict}: {report.accounts} accounts, {report.entries} entries, {detail}"


def run(label: str, url: str, *, members: int, writes: int, clients: int) -> bool:
    engine = make_engine(url, pool_size=clients)
    factory = make_session_factory(engine)
    try:
        seeded = _seed(factory, members)
        checkins = [_checkin_job(factory, member, chat) for member, chat in seeded]
        checkin_secs, checkin_outcomes = _timed(clients, checkins)
        hot = [member for member, _ in seeded[:HOT_MEMBERS]]
        write_secs, write_outcomes = _timed(clients, _write_jobs(factory, hot, writes))
        invariant = _invariant(factory)
    finally:
        engine.dispose()
    applied = write_outcomes["applied"]
    print(
        f"{label:<10}  check-ins/s {len(checkins) / checkin_secs:8.0f}  "
        f"({checkin_outcomes['checked_in']} credited in {checkin_secs:.2f} s)"
    )
    print(
        f"{'':<10}  ledger writes/s {writes / write_secs:8.0f}  "
        f"({applied} applied, {write_outcomes['insufficient']} insufficient, "
        f"{write_outcomes['duplicate']} duplicate, in {write_secs:.2f} s; "
        f"{applied / write_secs:.0f} entries/s)"
    )
    print(f"{'':<10}  {invariant}")
    return invariant.startswith("invariant OK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000, help="members who check in")
    parser.add_argument("--writes", type=int, default=8000, help="ledger writes")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--pg", help="PostgreSQL admin URL (default: $BENCH_DATABASE_URL)")
    args = parser.parse_args()
    if args.pg:
        os.environ["BENCH_DATABASE_URL"] = args.pg
    sizes = {"members": args.members, "writes": args.writes, "clients": args.clients}
    print(
        f"points benchmark: {args.clients} concurrent clients, {args.members} check-ins, "
        f"{args.writes} ledger writes on {HOT_MEMBERS} hot members"
    )
    ok = True
    with sqlite_database() as url:
        ok &= run("sqlite", url, **sizes)
    with postgres_database() as pg_url:
        if pg_url is None:
            print("postgresql  skipped: pass --pg URL or set BENCH_DATABASE_URL")
        else:
            ok &= run("postgresql", pg_url, **sizes)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
