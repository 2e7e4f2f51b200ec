"""Payment confirmations from the shop: a flash-sale order becomes paid once, however often the
payment system repeats itself.

Runs inside the caller's transaction (POST /callbacks/payment). A payment system retries until
it gets a 2xx, so one payment may arrive many times, even twice at the same moment, and may race
the release job. The decision is taken on the order's current row, and the only write is
`mark_paid`'s conditional UPDATE (the admin API's mark-paid uses the same function), so exactly
one delivery, or the release job, changes the order; a delivery that loses the race judges the
order again as it is now. Changes: the order (pending → paid, with `paid_at`, `payment_ref` and
operator "payment-callback"), nothing else — a payment that cannot be accepted changes nothing
and is answered with the reason (`refund_alert` words it for the admins).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from app.services.flash_sale_config import FlashSaleConfig
from app.services.flash_sale_orders import (
    OrderStateError,
    load_order,
    load_sale_item,
    mark_paid,
    member_name,
)
from app.services.flash_sale_views import OrderView, money

OPERATOR = "payment-callback"


class PaymentResult(StrEnum):
    PAID = "paid"  # pending → paid by this delivery
    DUPLICATE = "duplicate"  # this payment was recorded before: nothing to do
    UNKNOWN_ORDER = "unknown_order"
    AMOUNT_MISMATCH = "amount_mismatch"
    PAID_OTHERWISE = "paid_otherwise"  # paid under another reference: a second payment?
    CLOSED = "closed"  # released or cancelled: the money must go back


@dataclass(frozen=True, slots=True)
class Payment:
    """What the payment system says: `amount_cents` of `order_id` were paid at `paid_at`."""

    order_id: int
    payment_ref: str
    amount_cents: int
    paid_at: datetime


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    result: PaymentResult
    order: OrderView | None  # as it is after this delivery; None for an unknown order
    reason: str = ""  # short English, for the answer when the payment is not accepted

    @property
    def needs_refund(self) -> bool:
        """Money was taken that no order will keep: a human has to give it back."""
        return self.result in (PaymentResult.CLOSED, PaymentResult.PAID_OTHERWISE)


def confirm_payment(session: Session, payment: Payment) -> PaymentOutcome:
    """Mark the order paid as of `payment.paid_at` if it is pending at its price — also past
    its deadline, as long as the release job has not released it — or say why not."""
    order = load_order(session, payment.order_id)
    if order is None:
        return PaymentOutcome(PaymentResult.UNKNOWN_ORDER, None, f"no order {payment.order_id}")
    if order.status == "pending" and order.price_cents == payment.amount_cents:
        try:
            paid = mark_paid(
                session,
                order.id,
                now=payment.paid_at,
                payment_ref=payment.payment_ref,
                operator=OPERATOR,
            )
        except OrderStateError:
            # Another delivery of this payment or the release job changed it first.
            order = load_order(session, payment.order_id)
            assert order is not None  # orders are never deleted once claimed
        else:
            return PaymentOutcome(PaymentResult.PAID, paid)
    return judge(order, payment)


def judge(order: OrderView, payment: Payment) -> PaymentOutcome:
    """Whether a payment of an order that is not (or no longer) pending at its price is
    already accounted for, and if not, why it cannot be."""
    oid, amount = order.id, payment.amount_cents
    mismatch = f"amount_cents {amount} does not match order {oid}'s price {order.price_cents}"
    if order.paid_at is not None and order.payment_ref == payment.payment_ref:
        if amount != order.price_cents:
            return PaymentOutcome(PaymentResult.AMOUNT_MISMATCH, order, mismatch)
        return PaymentOutcome(PaymentResult.DUPLICATE, order)
    if order.status in ("released", "cancelled"):
        reason = f"order {oid} is {order.status}; refund the payment"
        return PaymentOutcome(PaymentResult.CLOSED, order, reason)
    if order.status == "paid":
        reason = (
            f"order {oid} is already paid under another payment_ref; "
            "if this is a second payment, refund it"
        )
        return PaymentOutcome(PaymentResult.PAID_OTHERWISE, order, reason)
    if amount != order.price_cents:
        return PaymentOutcome(PaymentResult.AMOUNT_MISMATCH, order, mismatch)
    raise AssertionError(f"order {oid} is {order.status} at its price but was not paid")


def refund_alert(
    session: Session, config: FlashSaleConfig, order: OrderView, payment: Payment
) -> str:
    """The admins' zh-CN notice about a payment that must be refunded (config/flash_sale.toml)."""
    sale, item = load_sale_item(session, order.item_id)
    text = {"released": "payment_after_released", "cancelled": "payment_after_cancelled"}
    return config.texts.render(
        text.get(order.status, "payment_twice"),
        order_id=order.id,
        sale=sale.name,
        number=item.number,
        item=item.name,
        name=member_name(session, order.member_id, fallback="-"),
        amount=money(payment.amount_cents),
        payment_ref=payment.payment_ref,
    )
