"""Points expiry job: oldest points first, announced beforehand, idempotent, injected clock."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import OutboxRow
from app.jobs.points_expiry import ExpiryReport, add_months, expiry_cutoff, run_points_expiry
from app.services.points_audit import verify_ledger
from app.settings import Settings
from tests.conftest import SHANGHAI
from tests.points_helpers import apply, balance, config_with, entries, in_tx, seed_member

Factory = sessionmaker[Session]


def _at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def member(session_factory: Factory, clock: FixedClock) -> int:
    clock.set(_at(2025, 11, 23, 10))
    member_pk, _ = seed_member(session_factory, clock.now())
    apply(session_factory, clock, member_pk, 100, "earned-nov-2025")
    clock.set(_at(2026, 1, 10, 10))
    apply(session_factory, clock, member_pk, 50, "earned-jan-2026")
    clock.set(_at(2026, 3, 1, 10))
    apply(session_factory, clock, member_pk, -30, "spent-mar-2026", reason="redeem")
    return member_pk


def _run(factory: Factory, clock: FixedClock, settings: Settings, at: datetime) -> ExpiryReport:
    clock.set(at)
    return run_points_expiry(factory, clock, settings)


def _notices(factory: Factory) -> list[OutboxRow]:
    with factory() as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def test_cutoff_is_the_start_of_the_month_a_year_back() -> None:
    assert add_months(date(2026, 1, 1), -12).isoformat() == "2025-01-01"
    assert add_months(date(2026, 12, 1), 1).isoformat() == "2027-01-01"
    assert expiry_cutoff(_at(2026, 12, 1, 0, 5), SHANGHAI, 12) == _at(2025, 12, 1)


def test_nothing_expires_or_is_announced_early(
    session_factory: Factory, clock: FixedClock, settings: Settings, member: int
) -> None:
    report = _run(session_factory, clock, settings, _at(2026, 11, 23, 23, 59))

    assert report == ExpiryReport()
    assert balance(session_factory, member) == 120
    assert _notices(session_factory) == []


def test_members_hear_a_week_before_once(
    session_factory: Factory, clock: FixedClock, settings: Settings, member: int
) -> None:
    first = _run(session_factory, clock, settings, _at(2026, 11, 24, 8))
    second = _run(session_factory, clock, settings, _at(2026, 11, 25, 8))

    [notice] = _notices(session_factory)
    assert (first.notices, second.notices) == (1, 0)
    assert (notice.channel, notice.target, notice.mention_ids) == ("bridge", "g-001", ["u-001"])
    # 100 earned in Nov 2025, 30 already spent (oldest first): 70 expire on 1 December
    assert notice.text.startswith("小满，你有 70 积分将于 12月1日 过期")


def test_expiry_takes_the_oldest_unspent_points_once(
    session_factory: Factory, clock: FixedClock, settings: Settings, member: int
) -> None:
    clock.set(_at(2026, 11, 26, 12))
    apply(session_factory, clock, member, -10, "spent-nov-2026", reason="redeem")

    first = _run(session_factory, clock, settings, _at(2026, 12, 1, 0, 5))
    again = _run(session_factory, clock, settings, _at(2026, 12, 2, 0, 5))

    assert (first.members_expired, first.points_expired) == (1, 60)
    assert again.points_expired == 0
    [expired] = entries(session_factory, member, "expire")
    assert (expired.delta, expired.balance_after, expired.operator) == (-60, 50, "system")
    assert expired.idempotency_key == f"expire:{member}:2025-12-01"
    assert in_tx(session_factory, verify_ledger).ok


def test_later_months_expire_what_is_left_of_later_points(
    session_factory: Factory, clock: FixedClock, settings: Settings, member: int
) -> None:
    _run(session_factory, clock, settings, _at(2026, 12, 1, 1))
    report = _run(session_factory, clock, settings, _at(2027, 2, 1, 1))

    assert report.points_expired == 50
    assert balance(session_factory, member) == 0
    assert [e.delta for e in entries(session_factory, member, "expire")] == [-70, -50]


def test_expiry_can_be_switched_off(
    session_factory: Factory, clock: FixedClock, settings: Settings, member: int
) -> None:
    base = config_with()
    config = base.model_copy(update={"expiry": base.expiry.model_copy(update={"enabled": False})})
    clock.set(_at(2027, 6, 1, 1))

    report = run_points_expiry(session_factory, clock, settings, config)

    assert report == ExpiryReport()
    assert balance(session_factory, member) == 120
