"""`qunyun points verify|award|expire` and the demo check-in campaign."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.clock import FixedClock
from app.db.models import CheckinCampaign, PointsEntry
from app.db.session import transaction
from tests.conftest import ADMIN_TOKEN, BRIDGE_SECRET
from tests.points_helpers import apply, balance, count, entries, seed_member

runner = CliRunner()
Factory = sessionmaker[Session]


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url,
        "ENVIRONMENT": "test",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "BRIDGE_SECRET": BRIDGE_SECRET,
        "DATA_DIR": str(tmp_path / "data"),
    }


@pytest.fixture
def member(session_factory: Factory, clock: FixedClock) -> int:
    member_pk, _ = seed_member(session_factory, clock.now())
    apply(session_factory, clock, member_pk, 50, "k1")
    apply(session_factory, clock, member_pk, -20, "k2", reason="redeem")
    return member_pk


def test_verify_passes_on_a_clean_ledger(env: dict[str, str], member: int) -> None:
    result = runner.invoke(cli, ["points", "verify"], env=env)

    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: 1 accounts, 2 entries, 30 points held")


def test_verify_detects_a_tampered_balance(
    env: dict[str, str], session_factory: Factory, member: int
) -> None:
    with transaction(session_factory) as session:
        session.execute(text("UPDATE points_accounts SET balance = balance + 500"))

    result = runner.invoke(cli, ["points", "verify"], env=env)

    assert result.exit_code == 1
    assert f"member {member} (bridge:u-001): balance 530 != ledger sum 30" in result.stdout
    assert result.stderr.strip() == "error: ledger check failed: 1 problem(s)"


def test_award_writes_one_audited_entry(
    env: dict[str, str], session_factory: Factory, member: int
) -> None:
    args = ["points", "award", "--user", "u-001", "--delta", "-10", "--reason", "兑换花瓶"]

    result = runner.invoke(cli, [*args, "--operator", "店长", "--key", "vase-1"], env=env)
    again = runner.invoke(cli, [*args, "--operator", "店长", "--key", "vase-1"], env=env)

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "applied: bridge:u-001 -10, balance 20"
    assert again.output.strip() == "duplicate: bridge:u-001 -10, balance 20"
    last = entries(session_factory, member)[-1]
    assert (last.reason, last.operator, last.note) == ("admin_deduct", "店长", "兑换花瓶")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "u-x", "--delta", "5", "--reason", "r"], "error: unknown member bridge:u-x"),
        (["--user", "u-001", "--delta", "0", "--reason", "r"], "error: delta must not be zero"),
        (["--user", "u-001", "--delta", "5", "--reason", " "], "error: a reason is required"),
        (
            ["--user", "u-001", "--delta", "-31", "--reason", "r"],
            "error: insufficient points: balance is 30, cannot deduct 31",
        ),
    ],
)
def test_bad_awards_are_one_line_errors_and_write_nothing(
    env: dict[str, str], session_factory: Factory, member: int, args: list[str], message: str
) -> None:
    result = runner.invoke(cli, ["points", "award", *args], env=env)

    assert result.exit_code == 2
    assert result.stderr.strip() == message
    assert "Traceback" not in result.output
    assert count(session_factory, PointsEntry) == 2
    assert balance(session_factory, member) == 30


def test_award_without_a_reason_is_a_usage_error(env: dict[str, str], member: int) -> None:
    result = runner.invoke(cli, ["points", "award", "--user", "u-001", "--delta", "5"], env=env)

    assert result.exit_code == 2
    assert "--reason" in result.output


def test_expire_runs_the_job(env: dict[str, str], member: int) -> None:
    result = runner.invoke(cli, ["points", "expire"], env=env)

    assert result.exit_code == 0, result.output
    assert result.output.startswith("expired 0 points of 0 members")


def test_an_unreachable_database_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    bad = {**env, "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"}

    result = runner.invoke(cli, ["points", "verify"], env=bad)

    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot reach the database")
    assert len(result.stderr.strip().splitlines()) == 1


def test_demo_seeds_the_default_checkin_campaign_once(
    env: dict[str, str], session_factory: Factory
) -> None:
    first = runner.invoke(cli, ["demo"], env=env)
    second = runner.invoke(cli, ["demo"], env=env)

    assert (first.exit_code, second.exit_code) == (0, 0)
    assert count(session_factory, CheckinCampaign) == 1
