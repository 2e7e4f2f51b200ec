"""Payment confirmations under concurrency: simultaneous deliveries of one payment pay the order
once, and a payment racing the release job ends in exactly one of paid or released."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.session import make_engine, make_session_factory, transaction
from app.services.flash_sale_config import load_flash_sale_config
from app.services.flash_sale_orders import OrderContext, close_order
from app.services.flash_sale_payments import (
    Payment,
    PaymentOutcome,
    PaymentResult,
    confirm_payment,
)
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
PRICE = 2990


def _claimed(
    factory: Factory, clock: FixedClock, members: int, stock: int
) -> tuple[int, list[int]]:
    chat, pks = seed_members(factory, clock.now(), members)
    sale = create_sale(factory, clock, [chat], [item(1, stock=stock, price_cents=PRICE)])
    clock.set(START)
    ids = []
    for member in pks:
        result = claim(factory, clock, member, chat)
        assert result.order is not None
        ids.append(result.order.id)
    return sale, ids


def _pay(factory: Factory, payment: Payment) -> PaymentOutcome:
    with transaction(factory) as session:
        return confirm_payment(session, payment)


def test_simultaneous_deliveries_of_one_payment_pay_the_order_once(
    db_url: str, session_factory: Factory, clock: FixedClock
) -> None:
    sale, [order_id] = _claimed(session_factory, clock, 1, 5)
    payment = Payment(order_id, "wx-txn-1", PRICE, START + timedelta(minutes=2))
    engine = make_engine(db_url, pool_size=8)
    factory = make_session_factory(engine)

    try:
        outcomes = run_together([payment] * 16, 8, lambda p: _pay(factory, p))
    finally:
        engine.dispose()

    results = [o.result for o in outcomes]
    assert results.count(PaymentResult.PAID) == 1
    assert results.count(PaymentResult.DUPLICATE) == 15
    [order] = orders(session_factory, sale)
    assert (order.status, order.payment_ref, order.operator) == (
        "paid",
        "wx-txn-1",
        "payment-callback",
    )
    assert order.paid_at == START + timedelta(minutes=2)
    assert_never_oversold(session_factory, sale)


def test_a_payment_racing_the_release_job_ends_paid_or_released(
    db_url: str, session_factory: Factory, clock: FixedClock
) -> None:
    sale, ids = _claimed(session_factory, clock, 20, 30)
    clock.set(START + timedelta(minutes=15))
    engine = make_engine(db_url, pool_size=8)
    factory = make_session_factory(engine)

    def pay_or_release(work: tuple[int, str]) -> str:
        order_id, action = work
        if action == "pay":
            paid_at = START + timedelta(minutes=14)
            return str(_pay(factory, Payment(order_id, f"wx-{order_id}", PRICE, paid_at)).result)
        with transaction(factory) as session:
            ctx = OrderContext(
                service(session, clock).points, load_flash_sale_config(), SHANGHAI, clock.now()
            )
            return "released" if close_order(session, ctx, order_id, "released") else "too late"

    try:
        outcomes = run_together(
            [(i, a) for i in ids for a in ("pay", "release")], 8, pay_or_release
        )
    finally:
        engine.dispose()

    final = [o.status for o in orders(session_factory, sale)]
    assert len(final) == 20
    assert final.count("paid") == outcomes.count(PaymentResult.PAID)
    assert final.count("released") == outcomes.count("released")
    assert final.count("paid") + final.count("released") == 20
    # A payment that lost the race is refused with "refund"; a release that lost changed nothing.
    assert outcomes.count(PaymentResult.CLOSED) == outcomes.count("released")
    assert outcomes.count("too late") == outcomes.count(PaymentResult.PAID)
    assert stock_of(session_factory, sale) == 10 + final.count("released")
    assert_never_oversold(session_factory, sale)


def test_a_released_order_is_refunded_whatever_the_amount(
    session_factory: Factory, clock: FixedClock
) -> None:
    _, [order_id] = _claimed(session_factory, clock, 1, 5)
    clock.set(START + timedelta(minutes=15))
    with transaction(session_factory) as session:
        ctx = OrderContext(
            service(session, clock).points, load_flash_sale_config(), SHANGHAI, clock.now()
        )
        assert close_order(session, ctx, order_id, "released") is not None

    outcome = _pay(session_factory, Payment(order_id, "wx-1", PRICE + 1, clock.now()))

    assert outcome.result is PaymentResult.CLOSED
    assert outcome.needs_refund
