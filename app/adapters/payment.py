"""The payment callback's body: the shop's notice that a flash-sale order was paid.

Runs in the web request for POST /callbacks/payment, after the signature check (the bridge's
scheme, `bridge.verify`, keyed by PAYMENT_CALLBACK_SECRET). It changes nothing; it returns a
`Payment` or raises `CallbackRejected` with 422 and the first problem as the reason.
Body: {"order_id": 123, "payment_ref": "wx-…", "amount_cents": 1990, "paid_at": 1763812800};
`paid_at` (unix seconds) is optional, other fields are ignored, types are not coerced.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.adapters.bridge import MAX_EPOCH, MIN_EPOCH, load_object, validated
from app.adapters.errors import unprocessable
from app.services.flash_sale_payments import Payment

MAX_ORDER_ID = 2**31 - 1  # flash_sale_orders.id is a 32-bit integer on PostgreSQL
MAX_AMOUNT_CENTS = 10**12
MAX_REF_CHARS = 128  # flash_sale_orders.payment_ref


class PaymentBody(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    order_id: int = Field(ge=1, le=MAX_ORDER_ID)
    payment_ref: str = Field(min_length=1, max_length=MAX_REF_CHARS)
    amount_cents: int = Field(ge=0, le=MAX_AMOUNT_CENTS)
    paid_at: int | None = Field(None, ge=MIN_EPOCH, le=MAX_EPOCH)

    @field_validator("payment_ref")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.strip() or not value.isprintable():
            raise ValueError("must be printable text")
        return value


def parse(body: bytes, *, now: datetime, max_ahead_seconds: int) -> Payment:
    """The validated notice; a missing `paid_at` is `now`, one more than `max_ahead_seconds`
    after `now` is refused (0 disables that check, like CALLBACK_MAX_AGE_SECONDS)."""
    notice = validated(PaymentBody, load_object(body, unprocessable), unprocessable)
    paid_at = now if notice.paid_at is None else datetime.fromtimestamp(notice.paid_at, tz=UTC)
    if max_ahead_seconds and paid_at > now + timedelta(seconds=max_ahead_seconds):
        raise unprocessable("paid_at: in the future")
    return Payment(notice.order_id, notice.payment_ref, notice.amount_cents, paid_at)
