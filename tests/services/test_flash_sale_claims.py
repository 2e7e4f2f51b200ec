"""take_unit on its own: a refusal found late (another claim won the last unit, or the member's
limit filled meanwhile) leaves no order, holding or points behind."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import FlashSaleHolding
from app.db.session import transaction
from app.services.flash_sale_admin import FlashSaleAdmin
from app.services.flash_sale_claims import Take, TakeOutcome, order_by_key, take_unit
from app.services.flash_sale_config import load_flash_sale_config
from tests.conftest import SHANGHAI
from tests.flash_sale_helpers import (
    START,
    assert_never_oversold,
    claim,
    create_sale,
    item,
    orders,
    seed_members,
    service,
)
from tests.points_helpers import apply, balance

Factory = sessionmaker[Session]


def _take(
    factory: Factory, clock: FixedClock, sale: int, member: int, key: str, **stale: int
) -> TakeOutcome:
    with transaction(factory) as session:
        admin = FlashSaleAdmin(session, load_flash_sale_config(), tz=SHANGHAI, now=clock.now())
        item_view = replace(admin.items(sale)[0], **stale)  # type: ignore[arg-type]  # an earlier read
        take = Take(admin.sale(sale), item_view, member, None, key, clock.now())
        return take_unit(session, service(session, clock).points, take)


def _held(factory: Factory, member: int) -> int:
    with factory() as session:
        held = session.scalar(
            select(FlashSaleHolding.held).where(FlashSaleHolding.member_id == member)
        )
    return int(held or 0)


def test_a_unit_gone_since_the_read_is_sold_out_and_leaves_nothing(
    session_factory: Factory, clock: FixedClock
) -> None:
    chat, members = seed_members(session_factory, clock.now(), 2)
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=1)])
    clock.set(START)
    claim(session_factory, clock, members[0], chat)

    outcome = _take(session_factory, clock, sale, members[1], "late", stock=1)

    assert outcome.status == "sold_out"
    assert len(orders(session_factory, sale)) == 1
    assert _held(session_factory, members[1]) == 0
    assert_never_oversold(session_factory, sale)


def test_a_limit_filled_since_the_read_is_over_limit_and_leaves_nothing(
    session_factory: Factory, clock: FixedClock
) -> None:
    chat, members = seed_members(session_factory, clock.now(), 1)
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=5)])
    clock.set(START)
    claim(session_factory, clock, members[0], chat, key="first")

    outcome = _take(session_factory, clock, sale, members[0], "second")

    assert (outcome.status, outcome.held) == ("over_limit", 1)
    assert len(orders(session_factory, sale)) == 1
    assert_never_oversold(session_factory, sale)


def test_a_points_item_gone_since_the_read_gives_the_points_back(
    session_factory: Factory, clock: FixedClock
) -> None:
    chat, members = seed_members(session_factory, clock.now(), 2)
    sale = create_sale(
        session_factory, clock, [chat], [item(1, stock=1, price_cents=0, points_price=30)]
    )
    apply(session_factory, clock, members[0], 100, "gift-0")
    apply(session_factory, clock, members[1], 100, "gift-1")
    clock.set(START)
    claim(session_factory, clock, members[0], chat)

    outcome = _take(session_factory, clock, sale, members[1], "late", stock=1)

    assert outcome.status == "sold_out"
    assert balance(session_factory, members[1]) == 100
    assert _held(session_factory, members[1]) == 0
    assert_never_oversold(session_factory, sale)


def test_a_key_taken_since_the_read_is_a_duplicate_and_takes_nothing(
    session_factory: Factory, clock: FixedClock
) -> None:
    chat, members = seed_members(session_factory, clock.now(), 1)
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=5, per_member_limit=3)])
    clock.set(START)
    first = claim(session_factory, clock, members[0], chat, key="same")

    outcome = _take(session_factory, clock, sale, members[0], "same")

    assert outcome.status == "duplicate"
    assert outcome.order is not None
    assert first.order is not None
    assert outcome.order.id == first.order.id
    assert len(orders(session_factory, sale)) == 1
    assert _held(session_factory, members[0]) == 1
    assert_never_oversold(session_factory, sale)


def test_a_taken_unit_is_stored_as_the_reply_describes_it(
    session_factory: Factory, clock: FixedClock
) -> None:
    chat, members = seed_members(session_factory, clock.now(), 1)
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=5)])
    clock.set(START)

    outcome = _take(session_factory, clock, sale, members[0], "k-1")

    assert (outcome.status, outcome.held, outcome.left) == ("taken", 1, 4)
    assert outcome.order is not None
    stored = orders(session_factory, sale)
    assert len(stored) == 1
    with session_factory() as session:
        view = order_by_key(session, "k-1")
    assert view == outcome.order
    assert _held(session_factory, members[0]) == 1
    assert_never_oversold(session_factory, sale)
