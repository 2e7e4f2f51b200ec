"""Daily check-in: once per community day (00:00 Asia/Shanghai), streaks, bonuses, ranks,
campaigns, make-up cards — and 50 simultaneous 签到 from one member paying once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import Checkin, CheckinCampaign
from app.db.session import transaction
from app.services.checkin import CheckinResult, CheckinService
from app.services.checkin_makeup import MakeupResult
from app.services.points_audit import verify_ledger
from app.services.points_config import PointsConfig
from tests.conftest import SHANGHAI
from tests.points_helpers import (
    apply,
    balance,
    check_in,
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
def member(session_factory: Factory, clock: FixedClock) -> tuple[int, int]:
    return seed_member(session_factory, clock.now())


def _days(
    factory: Factory, clock: FixedClock, member: tuple[int, int], days: int
) -> list[CheckinResult]:
    results = []
    for _ in range(days):
        results.append(check_in(factory, clock, *member))
        clock.advance(days=1)
    return results


def test_first_checkin_pays_and_ranks(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    result = check_in(session_factory, clock, *member)

    assert result.status == "checked_in"
    assert (result.points, result.bonus, result.streak, result.rank, result.balance) == (
        10, 0, 1, 1, 10,
    )  # fmt: skip
    assert result.day.isoformat() == "2026-11-23"
    [entry] = entries(session_factory, member[0])
    assert (entry.reason, entry.delta, entry.idempotency_key) == (
        "checkin", 10, f"checkin:{member[0]}:2026-11-23",
    )  # fmt: skip


def test_second_checkin_the_same_day_is_friendly_and_free(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    check_in(session_factory, clock, *member)
    clock.advance(hours=5)

    again = check_in(session_factory, clock, *member)

    assert again.status == "already"
    assert (again.rank, again.streak, again.balance) == (1, 1, 10)
    assert len(entries(session_factory, member[0])) == 1


def test_the_day_turns_at_midnight_shanghai_not_utc(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    clock.set(datetime(2026, 11, 23, 23, 59, 59, tzinfo=SHANGHAI))  # 15:59:59 UTC
    late = check_in(session_factory, clock, *member)
    clock.advance(seconds=1)  # 00:00:00 Shanghai, still 23 Nov in UTC
    assert clock.now().astimezone(UTC).day == 23
    midnight = check_in(session_factory, clock, *member)
    clock.advance(hours=10)
    morning = check_in(session_factory, clock, *member)

    assert (late.day.isoformat(), late.status) == ("2026-11-23", "checked_in")
    assert (midnight.day.isoformat(), midnight.status, midnight.streak) == (
        "2026-11-24", "checked_in", 2,
    )  # fmt: skip
    assert morning.status == "already"
    assert balance(session_factory, member[0]) == 20


def test_a_missed_day_breaks_the_streak(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    streaks = [r.streak for r in _days(session_factory, clock, member, 3)]
    clock.advance(days=1)  # skipped a whole day
    after_gap = check_in(session_factory, clock, *member)

    assert streaks == [1, 2, 3]
    assert after_gap.streak == 1


def test_seventh_day_pays_the_streak_bonus_and_the_fourteenth_again(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    results = _days(session_factory, clock, member, 14)

    assert [r.bonus for r in results] == [0] * 6 + [20] + [0] * 6 + [20]
    assert results[6].balance == 7 * 10 + 20
    assert [e.ref for e in entries(session_factory, member[0], "streak_bonus")] == [
        "2026-11-29:7",
        "2026-12-06:14",
    ]


def test_ranks_count_per_group_and_day(session_factory: Factory, clock: FixedClock) -> None:
    first = seed_member(session_factory, clock.now(), user="u-1")
    second = seed_member(session_factory, clock.now(), user="u-2")
    elsewhere = seed_member(session_factory, clock.now(), user="u-3", chat="g-002")

    ranks = [check_in(session_factory, clock, *m).rank for m in (first, second, elsewhere)]
    clock.advance(days=1)
    next_day = check_in(session_factory, clock, *second).rank

    assert ranks == [1, 2, 1]
    assert next_day == 1


def _campaign(factory: Factory, clock: FixedClock, **fields: object) -> int:
    values: dict[str, object] = {
        "name": "双11签到", "chats": [], "starts_at": clock.now() - timedelta(days=1),
        "ends_at": None, "points": 15, "streak_bonuses": {"2": 50},
        "streak_bonus_repeat": False, "enabled": True, "created_at": clock.now(),
    }  # fmt: skip
    values.update(fields)
    with transaction(factory) as session:
        campaign = CheckinCampaign(**values)
        session.add(campaign)
        session.flush()
        return campaign.id


def test_a_running_campaign_sets_reward_and_streak_rules(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    campaign_id = _campaign(session_factory, clock, chats=["bridge:g-001"])
    _campaign(session_factory, clock, name="全群", points=12)

    day_one = check_in(session_factory, clock, *member)
    clock.advance(days=1)
    day_two = check_in(session_factory, clock, *member)

    assert (day_one.points, day_one.bonus, day_two.bonus) == (15, 0, 50)
    with session_factory() as session:
        assert {c.campaign_id for c in session.query(Checkin)} == {campaign_id}


def test_ended_or_other_groups_campaigns_leave_the_defaults(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    _campaign(session_factory, clock, ends_at=clock.now() - timedelta(minutes=1))
    _campaign(session_factory, clock, chats=["bridge:g-other"], points=99)
    _campaign(session_factory, clock, enabled=False, points=77)

    assert check_in(session_factory, clock, *member).points == 10


def test_a_group_can_switch_check_in_off(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    config = config_with().model_copy(
        update={"groups": {"bridge:g-001": {"checkin_enabled": False}}}
    )

    result = check_in(session_factory, clock, *member, config=config)

    assert result.status == "disabled"
    assert count(session_factory, Checkin) == 0


def test_fifty_simultaneous_checkins_of_one_member_pay_once(
    db_url: str, session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    def work(session: Session) -> CheckinResult:
        return CheckinService(session, points_service(session, clock)).check_in(*member)

    results = race(db_url, 50, work)

    assert [r.status for r in results].count("checked_in") == 1
    assert [r.status for r in results].count("already") == 49
    assert {r.rank for r in results} == {1}
    assert balance(session_factory, member[0]) == 10
    assert len(entries(session_factory, member[0])) == 1
    assert in_tx(session_factory, verify_ledger).ok


def test_simultaneous_checkins_of_many_members_get_distinct_ranks(
    db_url: str, session_factory: Factory, clock: FixedClock
) -> None:
    members = [seed_member(session_factory, clock.now(), user=f"u-{n}") for n in range(20)]
    queue = list(members)

    def work(session: Session) -> CheckinResult:
        return CheckinService(session, points_service(session, clock)).check_in(*queue.pop())

    results = race(db_url, 20, work)

    assert sorted(r.rank for r in results) == list(range(1, 21))


# -- make-up cards (补签卡) ---------------------------------------------------------------
def _make_up(
    factory: Factory,
    clock: FixedClock,
    member: tuple[int, int],
    config: PointsConfig | None = None,
) -> MakeupResult:
    return in_tx(
        factory,
        lambda s: CheckinService(s, points_service(s, clock, config)).make_up(*member),
    )


def test_a_make_up_card_fills_yesterday_and_extends_todays_streak(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    apply(session_factory, clock, member[0], 100, "seed")
    _days(session_factory, clock, member, 5)  # days 1-5; the clock is now on day 6
    clock.advance(days=1)  # day 6 missed; day 7
    today = check_in(session_factory, clock, *member)

    made = _make_up(session_factory, clock, member)

    assert today.streak == 1
    assert (made.status, made.cost, made.streak) == ("made_up", 30, 7)
    assert made.day.isoformat() == "2026-11-28"
    # the filled-in day completes a 7-day streak today: the bonus is paid late, once
    assert [e.delta for e in entries(session_factory, member[0], "streak_bonus")] == [20]
    assert balance(session_factory, member[0]) == 100 + 6 * 10 - 30 + 20


def test_make_up_is_refused_without_points_over_the_limit_or_when_not_needed(
    session_factory: Factory, clock: FixedClock, member: tuple[int, int]
) -> None:
    poor = _make_up(session_factory, clock, member)
    apply(session_factory, clock, member[0], 500, "seed")
    clock.advance(days=2)
    first = _make_up(session_factory, clock, member)
    again = _make_up(session_factory, clock, member)
    clock.advance(days=2)
    second = _make_up(session_factory, clock, member, config_with(makeup_per_month=1))

    assert (poor.status, poor.balance) == ("insufficient", 0)
    assert first.status == "made_up"
    assert again.status == "not_needed"
    assert (second.status, second.limit) == ("limit", 1)
    assert [e.delta for e in entries(session_factory, member[0], "makeup_card")] == [-30]
    assert in_tx(session_factory, verify_ledger).ok
