"""Activity points of a whole worker batch: written together, decided message by message,
never beyond the cap when batches of the same members run at once."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import PointsDaily
from app.services.points import Credit, LedgerConflict
from app.services.points_activity import ActivityAward, ActivityPoints
from app.services.points_audit import verify_ledger
from app.services.points_config import Level, PointsConfig
from tests.points_helpers import (
    apply,
    balance,
    config_with,
    entries,
    in_tx,
    points_service,
    race,
    seed_member,
)

Factory = sessionmaker[Session]
TEXT = "今天的花好漂亮呀"


@pytest.fixture
def member(session_factory: Factory, clock: FixedClock) -> tuple[int, int]:
    return seed_member(session_factory, clock.now())


def _batch(
    session: Session,
    clock: FixedClock,
    said: list[tuple[tuple[int, int], str, int]],
    config: PointsConfig | None = None,
) -> list[ActivityAward | None]:
    """Hold one message per (member, key, seconds after now), then flush them together."""
    activity = ActivityPoints(points_service(session, clock, config))
    held = [
        activity.add(
            member_pk=member_pk,
            chat_pk=chat_pk,
            text=TEXT,
            source_key=key,
            at=clock.now() + timedelta(seconds=offset),
        )
        for (member_pk, chat_pk), key, offset in said
    ]
    activity.flush()
    return held


def _earned(held: list[ActivityAward | None]) -> list[int]:
    return [award.result.delta if award and award.result else 0 for award in held]


def test_cooldown_and_cap_apply_within_one_batch_in_message_order(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    config = config_with(activity_points=5, activity_daily_cap=15, activity_cooldown_seconds=60)
    said = [(member, f"m{n}", offset) for n, offset in enumerate((0, 30, 60, 120, 180, 240))]

    held = in_tx(session_factory, lambda s: _batch(s, clock, said, config))

    assert _earned(held) == [5, 0, 5, 5, 0, 0]  # 30 s is too soon; the cap stops the 4th
    assert [e.balance_after for e in entries(session_factory, member[0])] == [5, 10, 15]
    with session_factory() as session:
        daily = session.scalars(select(PointsDaily)).one()
    assert (daily.earned, daily.count) == (15, 3)
    assert daily.last_at == clock.now() + timedelta(seconds=120)


def test_a_later_batch_continues_from_the_stored_day(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    config = config_with(activity_points=5, activity_daily_cap=15, activity_cooldown_seconds=60)
    in_tx(
        session_factory, lambda s: _batch(s, clock, [(member, "a", 0), (member, "b", 60)], config)
    )

    later = [(member, "c", 90), (member, "d", 120), (member, "e", 180)]
    held = in_tx(session_factory, lambda s: _batch(s, clock, later, config))

    assert _earned(held) == [0, 5, 0]  # 90 s: cooling down from 60 s; 180 s: capped
    assert balance(session_factory, member[0]) == 15


def test_members_of_one_batch_keep_their_own_running_balances(
    session_factory: Factory, clock: FixedClock
) -> None:
    alice = seed_member(session_factory, clock.now(), user="u-a")
    bob = seed_member(session_factory, clock.now(), user="u-b")
    apply(session_factory, clock, bob[0], 40, "seed")
    config = config_with(activity_cooldown_seconds=0)
    said = [(alice, "a1", 0), (bob, "b1", 1), (alice, "a2", 2), (bob, "b2", 3), (alice, "a3", 4)]

    in_tx(session_factory, lambda s: _batch(s, clock, said, config))

    assert [e.balance_after for e in entries(session_factory, alice[0])] == [2, 4, 6]
    assert [e.balance_after for e in entries(session_factory, bob[0])] == [40, 42, 44]
    keys = [e.idempotency_key for e in entries(session_factory, reason="activity")]
    assert keys == [f"activity:{k}" for k in ("a1", "b1", "a2", "b2", "a3")]
    assert in_tx(session_factory, verify_ledger).ok


def test_a_level_up_is_announced_on_the_message_that_reached_it(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    apply(session_factory, clock, member[0], 97, "seed")  # Lv2 starts at 100
    config = config_with(activity_cooldown_seconds=0)
    announced: list[tuple[str, str]] = []

    def work(session: Session) -> None:
        activity = ActivityPoints(points_service(session, clock, config))
        for key in ("m1", "m2", "m3"):

            def announce(level: Level, key: str = key) -> None:
                announced.append((key, level.name))

            activity.add(
                member_pk=member[0],
                chat_pk=member[1],
                text=TEXT,
                source_key=key,
                at=clock.now(),
                on_level_up=announce,
            )
        activity.flush()

    in_tx(session_factory, work)

    assert announced == [("m2", "含苞")]  # 99 after m1, 101 after m2
    assert balance(session_factory, member[0]) == 103


def test_a_ledger_read_in_the_same_batch_sees_held_awards(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    def work(session: Session) -> int:
        points = points_service(session, clock)
        activity = ActivityPoints(points)
        activity.add(
            member_pk=member[0], chat_pk=member[1], text=TEXT, source_key="m1", at=clock.now()
        )
        seen = points.account(member[0]).balance  # e.g. a 积分 command later in the batch
        points.flush()  # what the worker does at the end of the batch: nothing left to write
        return seen

    seen = in_tx(session_factory, work)

    assert seen == 2
    assert [e.delta for e in entries(session_factory, member[0])] == [2]


def test_the_same_message_twice_in_a_batch_earns_once(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    config = config_with(activity_cooldown_seconds=0)

    held = in_tx(session_factory, lambda s: _batch(s, clock, [(member, "m1", 0)] * 2, config))

    assert _earned(held) == [2, 0]
    with session_factory() as session:
        assert session.scalars(select(PointsDaily.count)).one() == 1


def test_credit_many_refuses_a_key_written_meanwhile(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    apply(session_factory, clock, member[0], 5, "campaign", reason="campaign")
    credit = Credit(member[0], 3, "campaign", "campaign", clock.now())

    with pytest.raises(LedgerConflict), session_factory.begin() as session:
        points_service(session, clock).credit_many([credit])

    assert balance(session_factory, member[0]) == 5  # the transaction rolled back


def test_concurrent_batches_of_the_same_members_never_pass_the_cap(
    db_url: str, session_factory: Factory, clock: FixedClock
) -> None:
    """Eight workers at once, each with a message from every one of six members: the cap
    allows three awards per member a day, and exactly three are paid."""
    members = [seed_member(session_factory, clock.now(), user=f"u-{n}") for n in range(6)]
    config = config_with(activity_points=5, activity_daily_cap=15, activity_cooldown_seconds=0)
    workers = itertools.count()

    def work(session: Session) -> list[int]:
        worker = next(workers)
        said = [(m, f"w{worker}-{n}", 0) for n, m in enumerate(reversed(members))]
        return _earned(_batch(session, clock, said, config))

    results = race(db_url, 8, work)

    assert sum(sum(paid) for paid in results) == 6 * 15
    assert {balance(session_factory, m[0]) for m in members} == {15}
    with session_factory() as session:
        assert set(session.scalars(select(PointsDaily.count))) == {3}
    assert in_tx(session_factory, verify_ledger).ok
