"""Activity points: minimum length, cooldown per member, daily cap, group overrides, retries."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import PointsDaily
from app.services.points import LedgerResult
from app.services.points_activity import ActivityPoints, visible_length
from app.services.points_config import PointsConfig
from tests.points_helpers import balance, config_with, entries, in_tx, points_service, seed_member

Factory = sessionmaker[Session]


@pytest.fixture
def member(session_factory: Factory, clock: FixedClock) -> tuple[int, int]:
    return seed_member(session_factory, clock.now())


def _say(
    factory: Factory,
    clock: FixedClock,
    member: tuple[int, int],
    text: str = "今天的花好漂亮呀",
    key: str | None = None,
    config: PointsConfig | None = None,
) -> LedgerResult | None:
    member_pk, chat_pk = member
    source = key or f"bridge:{clock.now().timestamp()}"

    def say(session: Session) -> LedgerResult | None:
        activity = ActivityPoints(points_service(session, clock, config))
        award = activity.add(
            member_pk=member_pk, chat_pk=chat_pk, text=text, source_key=source, at=clock.now()
        )
        activity.flush()
        return award.result if award else None

    return in_tx(factory, say)


def test_mentions_and_spaces_do_not_count_towards_the_length() -> None:
    assert visible_length("@小助手 你 好 呀") == 3
    assert visible_length("今天的花好漂亮") == 7


def test_a_valid_message_earns_and_a_short_one_does_not(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    short = _say(session_factory, clock, member, "@小助手 好的")
    clock.advance(minutes=2)
    valid = _say(session_factory, clock, member)

    assert short is None
    assert valid is not None
    assert (valid.status, valid.delta) == ("applied", 2)
    assert [e.reason for e in entries(session_factory, member[0])] == ["activity"]


def test_cooldown_per_member(session_factory: Factory, clock: FixedClock) -> None:
    alice = seed_member(session_factory, clock.now(), user="u-a")
    bob = seed_member(session_factory, clock.now(), user="u-b")

    first = _say(session_factory, clock, alice)
    clock.advance(seconds=59)
    too_soon = _say(session_factory, clock, alice)
    other_member = _say(session_factory, clock, bob)
    clock.advance(seconds=1)
    cooled = _say(session_factory, clock, alice)

    assert [r is not None for r in (first, too_soon, other_member, cooled)] == [
        True, False, True, True,
    ]  # fmt: skip
    assert balance(session_factory, alice[0]) == 4


def test_daily_cap_resets_at_the_community_day(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    config = config_with(activity_points=5, activity_daily_cap=15, activity_cooldown_seconds=0)
    earned = []
    for n in range(5):
        result = _say(session_factory, clock, member, key=f"m{n}", config=config)
        earned.append(result.delta if result else 0)
        clock.advance(seconds=1)
    clock.advance(days=1)
    next_day = _say(session_factory, clock, member, key="m-next", config=config)

    assert earned == [5, 5, 5, 0, 0]
    assert next_day is not None
    assert next_day.applied
    assert balance(session_factory, member[0]) == 20


def test_a_reprocessed_message_earns_once(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    config = config_with(activity_cooldown_seconds=0)
    first = _say(session_factory, clock, member, key="bridge:b-1", config=config)
    again = _say(session_factory, clock, member, key="bridge:b-1", config=config)

    assert first is not None
    assert again is None
    assert balance(session_factory, member[0]) == 2
    with session_factory() as session:  # the retry used no slot of the daily cap
        daily = session.scalars(select(PointsDaily)).one()
    assert (daily.count, daily.earned) == (1, 2)


def test_a_very_long_message_id_still_earns_once(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    config = config_with(activity_cooldown_seconds=0)
    long_id = "bridge:" + "x" * 250

    first = _say(session_factory, clock, member, key=long_id, config=config)
    again = _say(session_factory, clock, member, key=long_id, config=config)

    assert first is not None
    assert again is None
    assert entries(session_factory, member[0])[0].idempotency_key.startswith("activity:sha256:")


def test_a_group_profile_changes_the_rules(session_factory: Factory, clock: FixedClock) -> None:
    prospect = seed_member(session_factory, clock.now(), chat="g-new", profile="prospect")
    config = config_with().model_copy(
        update={"groups": {"bridge:g-quiet": {"activity_enabled": False}}}
    )
    quiet = seed_member(session_factory, clock.now(), user="u-q", chat="g-quiet")

    low = _say(session_factory, clock, prospect, config=config)
    off = _say(session_factory, clock, quiet, config=config)

    assert low is not None
    assert low.delta == 1
    assert off is None
