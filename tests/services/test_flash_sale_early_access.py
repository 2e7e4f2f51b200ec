"""Flash-sale early access by level (config/points.toml `flash_sale_early_minutes`: Lv4 5 min,
Lv5 10 min): who may claim before the start, that every other check still applies, and that
claims at or after the start never look the level up."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import FlashSaleWaitlist
from app.db.session import transaction
from app.services.flash_sale_config import load_flash_sale_config
from app.services.flash_sales import FlashSaleService
from app.services.levels import LevelStatus
from app.services.points import PointsService
from app.services.points_config import load_points_config
from tests.conftest import SHANGHAI
from tests.flash_sale_helpers import START, claim, create_sale, item, orders, seed_members
from tests.flash_sale_helpers import stock_of as stock
from tests.points_helpers import apply

Factory = sessionmaker[Session]
EARNED = {1: 0, 4: 1500, 5: 5000}  # lifetime points that reach the level (the shipped basis)


@pytest.fixture
def group(session_factory: Factory, clock: FixedClock) -> tuple[int, list[int]]:
    """Members 0-1 at Lv4, 2-3 at Lv5, 4 at Lv1."""
    chat, members = seed_members(session_factory, clock.now(), 5)
    for member, level in zip(members, (4, 4, 5, 5, 1), strict=True):
        if EARNED[level]:
            apply(session_factory, clock, member, EARNED[level], f"earned-{member}")
    return chat, members


def _claim_at(
    factory: Factory, clock: FixedClock, member: int, chat: int, at: datetime, number: int = 1
) -> tuple[str, datetime | None, int | None]:
    clock.set(at)
    result = claim(factory, clock, member, chat, number, key=f"k-{member}-{at}")
    return result.status, result.opens_at, None if result.early is None else result.early.level


def test_lv4_claims_from_five_minutes_before_the_start(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(session_factory, clock, [chat])

    too_early = _claim_at(session_factory, clock, members[0], chat, START - timedelta(minutes=6))
    early = _claim_at(session_factory, clock, members[1], chat, START - timedelta(minutes=4))

    assert too_early == ("not_started", START - timedelta(minutes=5), 4)
    assert early[0] == "claimed"
    assert [o.member_id for o in orders(session_factory, sale)] == [members[1]]


def test_lv5_claims_ten_minutes_early_and_lv1_waits_for_the_start(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(session_factory, clock, [chat])

    lv5 = _claim_at(session_factory, clock, members[2], chat, START - timedelta(minutes=10))
    lv1 = _claim_at(session_factory, clock, members[4], chat, START - timedelta(seconds=1))

    assert lv5[0] == "claimed"
    assert lv1 == ("not_started", START, None)
    assert [o.member_id for o in orders(session_factory, sale)] == [members[2]]


def test_a_message_sent_before_the_members_opening_stays_early_when_processed_later(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    create_sale(session_factory, clock, [chat])
    clock.set(START - timedelta(minutes=4))

    sent = START - timedelta(minutes=5, seconds=1)
    result = claim(session_factory, clock, members[0], chat, at=sent)

    assert result.status == "not_started"


def test_early_claims_respect_stock_limits_and_the_waitlist(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=1)])
    clock.set(START - timedelta(minutes=8))

    first = claim(session_factory, clock, members[2], chat, key="a")
    again = claim(session_factory, clock, members[2], chat, key="b")
    second = claim(session_factory, clock, members[3], chat, key="c")

    assert (first.status, again.status, second.status) == ("claimed", "over_limit", "waitlisted")
    assert second.position == 1
    assert stock(session_factory, sale) == 0


def test_early_claims_still_need_the_sales_minimum_level(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    create_sale(session_factory, clock, [chat], min_level=5)

    lv4 = _claim_at(session_factory, clock, members[0], chat, START - timedelta(minutes=4))
    clock.set(START - timedelta(minutes=4))
    refused = claim(session_factory, clock, members[1], chat)

    assert lv4[0] == "not_eligible"
    assert (refused.reason, refused.level) == ("level", 4)


def test_a_sale_without_early_access_opens_for_everyone_at_the_start(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(session_factory, clock, [chat], early_access=False)

    lv5 = _claim_at(session_factory, clock, members[2], chat, START - timedelta(minutes=1))
    at_start = _claim_at(session_factory, clock, members[3], chat, START)

    assert lv5 == ("not_started", START, None)
    assert at_start[0] == "claimed"
    assert len(orders(session_factory, sale)) == 1


def test_claims_before_the_members_own_opening_never_queue(
    session_factory: Factory, clock: FixedClock, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=1)])
    clock.set(START - timedelta(minutes=6))

    results = [claim(session_factory, clock, m, chat, key=f"k{m}") for m in members[:2]]
    results.append(claim(session_factory, clock, members[4], chat, key="lv1"))

    assert [r.status for r in results] == ["not_started"] * 3
    assert orders(session_factory, sale) == []
    assert stock(session_factory, sale) == 1
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(FlashSaleWaitlist)) == 0


def test_claims_at_or_after_the_start_never_look_the_level_up(
    session_factory: Factory,
    clock: FixedClock,
    group: tuple[int, list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chat, members = group
    create_sale(session_factory, clock, [chat])
    looked_up: list[int] = []
    real = PointsService.level_status

    def spy(self: PointsService, member_pk: int) -> LevelStatus:
        looked_up.append(member_pk)
        return real(self, member_pk)

    monkeypatch.setattr(PointsService, "level_status", spy)

    _claim_at(session_factory, clock, members[0], chat, START)
    _claim_at(session_factory, clock, members[1], chat, START + timedelta(minutes=3))
    assert looked_up == []
    _claim_at(session_factory, clock, members[2], chat, START - timedelta(minutes=3))
    assert looked_up == [members[2]]


def test_without_any_early_level_claims_before_the_start_skip_the_lookup(
    session_factory: Factory,
    clock: FixedClock,
    group: tuple[int, list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chat, members = group
    create_sale(session_factory, clock, [chat])
    shipped = load_points_config()
    levels = tuple(lv.model_copy(update={"flash_sale_early_minutes": 0}) for lv in shipped.levels)
    config = shipped.model_copy(update={"levels": levels})
    monkeypatch.setattr(PointsService, "level_status", _no_lookup)
    clock.set(START - timedelta(minutes=3))

    with transaction(session_factory) as session:
        points = PointsService(session, config, clock, SHANGHAI)
        flash = FlashSaleService(session, points, load_flash_sale_config(), clock, SHANGHAI)
        result = flash.claim(members[2], chat, 1, key="k")

    assert (result.status, result.opens_at, result.early) == ("not_started", START, None)


def _no_lookup(self: PointsService, member_pk: int) -> LevelStatus:
    raise AssertionError("the level must not be looked up")
