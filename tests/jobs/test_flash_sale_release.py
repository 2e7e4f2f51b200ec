"""The release job with an injected clock: unpaid units come back exactly once (to the waitlist
or to stock), paid orders stay, points are refunded, results are posted once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import FlashSale, OutboxRow
from app.db.session import make_engine, make_session_factory, transaction
from app.jobs import ALL_JOBS
from app.jobs.flash_sale_release import SPEC, ReleaseReport, release_expired_orders
from app.services.flash_sale_orders import OrderStateError, mark_paid
from app.settings import Settings
from tests.conftest import SHANGHAI
from tests.flash_sale_helpers import (
    START,
    assert_never_oversold,
    claim,
    create_sale,
    item,
    orders,
    run_together,
    seed_members,
    stock_of,
)
from tests.points_helpers import apply, balance

Factory = sessionmaker[Session]
DEADLINE = START + timedelta(minutes=15)


@pytest.fixture
def group(session_factory: Factory, clock: FixedClock) -> tuple[int, list[int]]:
    return seed_members(session_factory, clock.now(), 4)


def _outbox_keys(factory: Factory) -> list[str]:
    with factory() as session:
        return list(session.scalars(select(OutboxRow.idempotency_key).order_by(OutboxRow.id)))


def _outbox_text(factory: Factory, key: str) -> str:
    with factory() as session:
        row = session.scalar(select(OutboxRow.text).where(OutboxRow.idempotency_key == key))
    assert row is not None
    return row


def test_an_unpaid_unit_returns_to_stock_exactly_once(
    session_factory: Factory, clock: FixedClock, settings: Settings, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=5)])
    clock.set(START)
    claim(session_factory, clock, members[0], chat)
    clock.set(DEADLINE - timedelta(seconds=1))

    early = release_expired_orders(session_factory, clock, settings)
    clock.set(DEADLINE)
    first = release_expired_orders(session_factory, clock, settings)
    second = release_expired_orders(session_factory, clock, settings)

    assert early.released == 0
    assert (first.released, first.restocked) == (1, 1)
    assert second == ReleaseReport()
    assert stock_of(session_factory, sale) == 5
    order = orders(session_factory, sale)[0]
    assert (order.status, order.closed_at) == ("released", DEADLINE)
    key = f"flash:order:{order.id}:released"
    assert _outbox_keys(session_factory).count(key) == 1
    assert "超过 15 分钟未付款，已自动释放" in _outbox_text(session_factory, key)
    assert_never_oversold(session_factory, sale)


def test_paid_orders_stay_and_a_late_payment_of_a_released_order_is_refused(
    session_factory: Factory, clock: FixedClock, settings: Settings, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=5)])
    clock.set(START)
    paid = claim(session_factory, clock, members[0], chat)
    unpaid = claim(session_factory, clock, members[1], chat)
    assert paid.order is not None
    assert unpaid.order is not None
    with transaction(session_factory) as session:
        mark_paid(session, paid.order.id, now=clock.now(), payment_ref="wx-1")
    clock.set(DEADLINE + timedelta(minutes=1))

    release_expired_orders(session_factory, clock, settings)

    assert [o.status for o in orders(session_factory, sale)] == ["paid", "released"]
    assert stock_of(session_factory, sale) == 4
    with pytest.raises(OrderStateError), transaction(session_factory) as session:
        mark_paid(session, unpaid.order.id, now=clock.now())


def test_a_released_unit_goes_to_the_first_member_waiting(
    session_factory: Factory, clock: FixedClock, settings: Settings, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=1, name="向日葵")])
    clock.set(START)
    claim(session_factory, clock, members[0], chat, key="a")
    clock.advance(minutes=1)
    assert claim(session_factory, clock, members[1], chat, key="b").position == 1
    assert claim(session_factory, clock, members[2], chat, key="c").position == 2
    clock.set(DEADLINE)

    report = release_expired_orders(session_factory, clock, settings)

    assert (report.released, report.offered, report.restocked) == (1, 1, 0)
    released, offered = orders(session_factory, sale)
    assert (released.member_id, released.status) == (members[0], "released")
    assert (offered.member_id, offered.status, offered.source) == (
        members[1],
        "pending",
        "waitlist",
    )
    assert offered.pay_deadline == DEADLINE + timedelta(minutes=15)
    assert stock_of(session_factory, sale) == 0
    text = _outbox_text(session_factory, f"flash:order:{offered.id}:offered")
    assert text.startswith("会员1，候补成功 🎉 1号 向日葵 已为你保留")
    assert f"order={offered.id}" in text
    assert_never_oversold(session_factory, sale)


def test_points_spent_are_refunded_when_released(
    session_factory: Factory, clock: FixedClock, settings: Settings, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(
        session_factory, clock, [chat], [item(1, stock=3, price_cents=990, points_price=20)]
    )
    apply(session_factory, clock, members[0], 50, "gift")
    clock.set(START)
    assert claim(session_factory, clock, members[0], chat).status == "claimed"
    assert balance(session_factory, members[0]) == 30
    clock.set(DEADLINE)

    release_expired_orders(session_factory, clock, settings)
    release_expired_orders(session_factory, clock, settings)

    assert balance(session_factory, members[0]) == 50
    assert stock_of(session_factory, sale) == 3


def test_release_runs_racing_each_other_release_once(
    db_url: str,
    session_factory: Factory,
    clock: FixedClock,
    settings: Settings,
    group: tuple[int, list[int]],
) -> None:
    chat, members = group
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=10)])
    clock.set(START)
    for member in members:
        claim(session_factory, clock, member, chat)
    clock.set(DEADLINE)
    engine = make_engine(db_url, pool_size=4)
    factory = make_session_factory(engine)
    try:
        reports = run_together(
            list(range(4)), 4, lambda _: release_expired_orders(factory, clock, settings)
        )
    finally:
        engine.dispose()

    assert sum(r.released for r in reports) == 4
    assert sum(r.failed for r in reports) == 0
    assert stock_of(session_factory, sale) == 10
    assert_never_oversold(session_factory, sale)


def test_results_are_posted_once_when_the_sale_ends(
    session_factory: Factory, clock: FixedClock, settings: Settings, group: tuple[int, list[int]]
) -> None:
    chat, members = group
    sale = create_sale(
        session_factory,
        clock,
        [chat],
        [item(1, stock=3), item(2, stock=2)],
        payment_window_minutes=180,
    )
    clock.set(START)
    claim(session_factory, clock, members[0], chat, 1)
    claim(session_factory, clock, members[1], chat, 2)
    clock.set(START + timedelta(hours=2))

    first = release_expired_orders(session_factory, clock, settings)
    again = release_expired_orders(session_factory, clock, settings)

    assert (first.results_posted, again.results_posted) == (1, 0)
    text = _outbox_text(session_factory, f"flash:{sale}:results:{chat}")
    assert text.startswith("【秒杀结束】「周末秒杀」已结束")
    assert "1号 1号花束：1/3 件" in text
    assert text.endswith("共抢出 2/5 件，2 位会员抢到。")


def test_results_of_a_sale_long_over_are_recorded_not_posted(
    session_factory: Factory, clock: FixedClock, settings: Settings, group: tuple[int, list[int]]
) -> None:
    chat, _ = group
    sale = create_sale(session_factory, clock, [chat])
    clock.set(START + timedelta(days=3))

    report = release_expired_orders(session_factory, clock, settings)

    assert report.results_posted == 0
    assert not any(k.startswith(f"flash:{sale}:results") for k in _outbox_keys(session_factory))
    with session_factory() as session:
        assert session.scalar(select(FlashSale.results_sent_at)) == clock.now()


def test_the_job_is_scheduled() -> None:
    trigger = SPEC.trigger(None, SHANGHAI)  # type: ignore[arg-type]

    assert SPEC in ALL_JOBS
    assert SPEC.run_at_start
    assert trigger.get_next_fire_time(None, START) is not None
