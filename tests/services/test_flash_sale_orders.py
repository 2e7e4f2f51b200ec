"""Order transitions: a payment racing the release changes the order exactly once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.session import make_engine, make_session_factory, transaction
from app.services.flash_sale_config import load_flash_sale_config
from app.services.flash_sale_orders import OrderContext, OrderStateError, close_order, mark_paid
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
    service,
    stock_of,
)

Factory = sessionmaker[Session]


def test_payment_and_release_racing_change_each_order_once(
    db_url: str, session_factory: Factory, clock: FixedClock
) -> None:
    chat, members = seed_members(session_factory, clock.now(), 20)
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=30)])
    clock.set(START)
    ids = []
    for member in members:
        result = claim(session_factory, clock, member, chat)
        assert result.order is not None
        ids.append(result.order.id)
    clock.set(START + timedelta(minutes=15))
    engine = make_engine(db_url, pool_size=8)
    factory = make_session_factory(engine)

    def pay_or_release(work: tuple[int, str]) -> str:
        order_id, action = work
        with transaction(factory) as session:
            if action == "pay":
                try:
                    mark_paid(session, order_id, now=clock.now())
                except OrderStateError:
                    return "too late"
                return "paid"
            points = service(session, clock).points
            ctx = OrderContext(points, load_flash_sale_config(), SHANGHAI, clock.now())
            return "released" if close_order(session, ctx, order_id, "released") else "too late"

    try:
        outcomes = run_together(
            [(i, a) for i in ids for a in ("pay", "release")], 8, pay_or_release
        )
    finally:
        engine.dispose()

    assert outcomes.count("too late") == 20
    final = {o.id: o.status for o in orders(session_factory, sale)}
    assert sorted(final.values()).count("paid") == outcomes.count("paid")
    assert stock_of(session_factory, sale) == 10 + outcomes.count("released")
    assert_never_oversold(session_factory, sale)
