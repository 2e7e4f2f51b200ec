"""Helpers for the payment-callback tests: a pending flash-sale order, signed deliveries, and a
snapshot of every table to show that a refused delivery changed nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import Base
from app.settings import Settings
from tests.factories import signed
from tests.flash_sale_helpers import START, claim, create_sale, item, seed_members

PAYMENT_SECRET = "test-payment-secret-0123456789"
PRICE_CENTS = 2990
DEADLINE = START + timedelta(minutes=15)
URL = "/callbacks/payment"
Factory = sessionmaker[Session]


@dataclass(frozen=True, slots=True)
class Order:
    sale_id: int
    order_id: int
    chat_pk: int
    members: list[int]


def with_payment_secret(settings: Settings) -> Settings:
    return settings.model_copy(update={"payment_callback_secret": SecretStr(PAYMENT_SECRET)})


def pending_order(factory: Factory, clock: FixedClock) -> Order:
    """A sale starting at START with one item at ¥29.90; one member claims it at START (the
    clock is left there), so the order is pending until DEADLINE."""
    chat, members = seed_members(factory, clock.now(), 3)
    sale_id = create_sale(factory, clock, [chat], [item(1, stock=5, price_cents=PRICE_CENTS)])
    clock.set(START)
    result = claim(factory, clock, members[0], chat)
    assert result.order is not None
    return Order(sale_id, result.order.id, chat, members)


def notice(order_id: int, ref: str = "wx-txn-0001", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": order_id,
        "payment_ref": ref,
        "amount_cents": PRICE_CENTS,
    }
    body.update(changes)
    return body


def deliver(
    client: TestClient,
    clock: FixedClock,
    body: dict[str, Any] | bytes,
    *,
    at: datetime | None = None,
    secret: str = PAYMENT_SECRET,
) -> httpx.Response:
    """One signed delivery, timestamped by the test clock (or `at`)."""
    content, headers = signed(body, secret, timestamp=int((at or clock.now()).timestamp()))
    response: httpx.Response = client.post(URL, content=content, headers=headers)
    return response


def snapshot(factory: Factory) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with factory() as session:
        for table in Base.metadata.sorted_tables:
            stmt = select(table).order_by(*table.primary_key.columns)
            rows[table.name] = [tuple(row) for row in session.execute(stmt)]
    return rows
