"""Read-only views of flash-sale rows (plain frozen dataclasses) and money formatting.

No writes. Queries select plain columns into these views instead of loading ORM objects, so
the claim path never works on stale identity-map state after its own atomic UPDATEs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Row

from app.db.models import FlashSale, FlashSaleItem, FlashSaleOrder

_PRICE = re.compile(r"^\d{1,7}(\.\d{1,2})?$")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class SaleView:
    id: int
    name: str
    status: str
    starts_at: datetime
    ends_at: datetime
    payment_window_minutes: int
    min_level: int | None
    joined_before: datetime | None
    exclude_blocked: bool
    waitlist: bool
    early_access: bool = True  # levels' flash-sale early access applies (config/points.toml)

    def phase(self, now: datetime, *, early_lead: timedelta) -> str:
        """scheduled (not open yet), early_access (from `early_lead`, the longest early access
        of any level, before the start: those levels may claim), running, ended or cancelled.
        Derived for display only: the stored `status` stays "scheduled" until cancelled."""
        if self.status == "cancelled":
            return "cancelled"
        if now < self.starts_at:
            return "early_access" if now >= self.opens_at(early_lead) else "scheduled"
        return "running" if now < self.ends_at else "ended"

    def opens_at(self, early: timedelta) -> datetime:
        """When a member with `early` access may claim (the start without early access)."""
        return self.starts_at - early if self.early_access else self.starts_at


@dataclass(frozen=True, slots=True)
class ItemView:
    id: int
    sale_id: int
    number: int
    name: str
    price_cents: int
    points_price: int | None
    total: int
    stock: int
    per_member_limit: int
    image_url: str | None
    link_url: str | None

    @property
    def needs_payment(self) -> bool:
        return self.price_cents > 0


@dataclass(frozen=True, slots=True)
class OrderView:
    id: int
    sale_id: int
    item_id: int
    member_id: int
    chat_id: int | None
    claim_key: str
    source: str
    status: str
    price_cents: int
    points_spent: int
    claimed_at: datetime
    pay_deadline: datetime | None
    paid_at: datetime | None
    closed_at: datetime | None
    payment_ref: str | None = None  # the payment system's reference, once paid


def columns(model: type[Any], view: type[Any], prefix: str) -> list[ColumnElement[Any]]:
    """The table columns a view needs, labelled `<prefix><field>` (plain Core columns: a
    statement without ORM entities skips the ORM's per-execution bookkeeping)."""
    table = model.__table__
    return [table.c[f.name].label(prefix + f.name) for f in fields(view)]


def from_row(view: type[V], row: Row[*tuple[Any, ...]], prefix: str) -> V:
    mapping = row._mapping
    return view(**{f.name: mapping[prefix + f.name] for f in fields(view)})  # type: ignore[arg-type]


SALE_COLUMNS = columns(FlashSale, SaleView, "s_")
ITEM_COLUMNS = columns(FlashSaleItem, ItemView, "i_")
ORDER_COLUMNS = columns(FlashSaleOrder, OrderView, "o_")


def money(cents: int) -> str:
    """2990 → "29.90" (the SPEC's decimal string)."""
    return f"{cents // 100}.{cents % 100:02d}"


def parse_money(text: str) -> int:
    """ "29.90" → 2990; ValueError for anything but a plain non-negative amount."""
    if not _PRICE.match(text.strip()):
        raise ValueError(f"price {text!r} must be a decimal string such as 29.90")
    try:
        return int(Decimal(text.strip()) * 100)
    except InvalidOperation:
        raise ValueError(f"price {text!r} is not a number") from None
