"""The ledger: atomic, idempotent, never negative, append-only — also under real concurrency."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import PointsAccount, PointsEntry
from app.db.session import transaction
from app.services.points import LedgerError, LedgerResult
from app.services.points_audit import verify_ledger
from tests.points_helpers import (
    apply,
    balance,
    config_with,
    count,
    entries,
    in_tx,
    points_service,
    race,
    seed_member,
)

Factory = sessionmaker[Session]


@pytest.fixture
def member(session_factory: Factory, clock: FixedClock) -> int:
    return seed_member(session_factory, clock.now())[0]


def test_credit_and_debit_move_the_balance_and_keep_a_running_total(
    session_factory: Factory, clock: FixedClock, member: int
) -> None:
    first = apply(session_factory, clock, member, 50, "k1")
    second = apply(session_factory, clock, member, -20, "k2", reason="redeem")

    assert (first.status, first.balance, second.status, second.balance) == (
        "applied", 50, "applied", 30,
    )  # fmt: skip
    assert [(e.delta, e.balance_after, e.reason) for e in entries(session_factory, member)] == [
        (50, 50, "campaign"),
        (-20, 30, "redeem"),
    ]
    assert balance(session_factory, member) == 30


def test_the_same_key_pays_once(session_factory: Factory, clock: FixedClock, member: int) -> None:
    first = apply(session_factory, clock, member, 10, "checkin:1:2026-11-23", reason="checkin")
    again = apply(session_factory, clock, member, 10, "checkin:1:2026-11-23", reason="checkin")

    assert first.applied
    assert not again.applied
    assert again.status == "duplicate"
    assert again.entry_id == first.entry_id
    assert again.balance == 10
    assert len(entries(session_factory, member)) == 1


def test_a_debit_beyond_the_balance_is_refused_and_writes_nothing(
    session_factory: Factory, clock: FixedClock, member: int
) -> None:
    apply(session_factory, clock, member, 20, "k1")

    result = apply(session_factory, clock, member, -21, "k2", reason="redeem")

    assert result.status == "insufficient"
    assert not result.ok
    assert (result.delta, result.balance) == (0, 20)
    assert len(entries(session_factory, member)) == 1
    assert balance(session_factory, member) == 20


def test_clamped_penalty_takes_what_is_there_once_per_case(
    session_factory: Factory, clock: FixedClock, member: int
) -> None:
    apply(session_factory, clock, member, 7, "k1")

    def penalty(session: Session) -> LedgerResult:
        return points_service(session, clock).deduct_for_violation(member, 10, "case-9")

    first = in_tx(session_factory, penalty)
    again = in_tx(session_factory, penalty)
    empty = in_tx(
        session_factory,
        lambda s: points_service(s, clock).deduct_for_violation(member, 10, "case-10"),
    )

    assert (first.status, first.delta, first.balance) == ("applied", -7, 0)
    assert again.status == "duplicate"
    assert empty.status == "insufficient"
    assert [e.delta for e in entries(session_factory, member, "moderation")] == [-7]


@pytest.mark.parametrize(
    ("delta", "reason", "key", "message"),
    [
        (0, "campaign", "k", "zero"),
        (10_000_001, "campaign", "k", "between"),
        (5, "Bad Reason", "k", "reason code"),
        (5, "campaign", "", "idempotency key"),
        (5, "campaign", "x" * 192, "idempotency key"),
    ],
)
def test_bad_calls_are_refused_before_anything_is_written(
    session_factory: Factory,
    clock: FixedClock,
    member: int,
    delta: int,
    reason: str,
    key: str,
    message: str,
) -> None:
    with pytest.raises(LedgerError, match=message):
        apply(session_factory, clock, member, delta, key, reason=reason)

    assert count(session_factory, PointsEntry) == 0


def test_level_up_is_reported_once_and_spending_does_not_demote(
    session_factory: Factory, clock: FixedClock, member: int
) -> None:
    below = apply(session_factory, clock, member, 99, "k1")
    crossing = apply(session_factory, clock, member, 1, "k2")
    spent = apply(session_factory, clock, member, -100, "k3", reason="redeem")
    status = in_tx(session_factory, lambda s: points_service(s, clock).level_status(member))

    assert below.level_up is None
    assert crossing.level_up is not None
    assert crossing.level_up.level == 2
    assert spent.level_up is None
    assert (status.current.level, status.score) == (2, 100)


def test_levels_can_follow_the_balance_instead(
    session_factory: Factory, clock: FixedClock, member: int
) -> None:
    config = config_with().model_copy(update={"level_basis": "balance"})
    apply(session_factory, clock, member, 150, "k1")
    apply(session_factory, clock, member, -100, "k2", reason="redeem")

    status = in_tx(
        session_factory, lambda s: points_service(s, clock, config).level_status(member)
    )

    assert (status.current.level, status.score) == (1, 50)


def test_refunds_are_not_earnings(
    session_factory: Factory, clock: FixedClock, member: int
) -> None:
    apply(session_factory, clock, member, 40, "k1")
    apply(session_factory, clock, member, -30, "k2", reason="makeup_card")
    apply(session_factory, clock, member, 30, "k3", reason="refund")

    account = in_tx(session_factory, lambda s: points_service(s, clock).account(member))

    assert (account.balance, account.earned) == (40, 40)


def test_the_database_refuses_to_edit_or_delete_an_entry(
    session_factory: Factory, clock: FixedClock, member: int
) -> None:
    apply(session_factory, clock, member, 10, "k1")

    with pytest.raises(DBAPIError, match="append-only"), transaction(session_factory) as session:
        session.execute(update(PointsEntry).values(delta=1000))
    with pytest.raises(DBAPIError, match="append-only"), transaction(session_factory) as session:
        session.execute(delete(PointsEntry))

    assert [e.delta for e in entries(session_factory, member)] == [10]


def test_the_balance_cannot_be_forced_negative(
    session_factory: Factory, clock: FixedClock, member: int
) -> None:
    apply(session_factory, clock, member, 10, "k1")

    with pytest.raises(DBAPIError), transaction(session_factory) as session:
        session.execute(text("UPDATE points_accounts SET balance = -1"))

    assert balance(session_factory, member) == 10


def test_group_rules_layer_profile_and_group_overrides(
    session_factory: Factory, clock: FixedClock
) -> None:
    _, core_chat = seed_member(session_factory, clock.now(), chat="g-core", profile="core")
    _, plain_chat = seed_member(session_factory, clock.now(), chat="g-plain")
    config = config_with().model_copy(update={"groups": {"bridge:g-core": {"checkin_points": 15}}})

    core = in_tx(session_factory, lambda s: points_service(s, clock, config).rules_for(core_chat))
    plain = in_tx(
        session_factory, lambda s: points_service(s, clock, config).rules_for(plain_chat)
    )

    assert (core.activity_daily_cap, core.checkin_points) == (60, 15)
    assert (plain.activity_daily_cap, plain.checkin_points) == (40, 10)


# -- concurrency (real threads, real database; on PostgreSQL the transactions overlap) -------
def test_simultaneous_redemptions_never_overdraw(
    db_url: str, session_factory: Factory, clock: FixedClock, member: int
) -> None:
    apply(session_factory, clock, member, 100, "seed")

    results = race(
        db_url,
        40,
        lambda s: points_service(s, clock).apply(
            member, -30, "redeem", f"redeem:{uuid.uuid4().hex}"
        ),
    )

    assert sorted(r.status for r in results).count("applied") == 3
    assert sum(1 for r in results if r.status == "insufficient") == 37
    assert balance(session_factory, member) == 10
    assert [e.balance_after for e in entries(session_factory, member)] == [100, 70, 40, 10]
    assert in_tx(session_factory, verify_ledger).ok


def test_simultaneous_retries_of_one_key_pay_once(
    db_url: str, session_factory: Factory, clock: FixedClock, member: int
) -> None:
    results = race(
        db_url,
        30,
        lambda s: points_service(s, clock).apply(member, 25, "campaign", "campaign:spring:1"),
    )

    assert [r.status for r in results].count("applied") == 1
    assert {r.entry_id for r in results} == {results[0].entry_id}
    assert balance(session_factory, member) == 25
    assert count(session_factory, PointsAccount) == 1
    assert in_tx(session_factory, verify_ledger).ok
