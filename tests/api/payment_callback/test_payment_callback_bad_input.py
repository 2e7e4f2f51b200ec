"""Every refused payment delivery is a 4xx with a JSON reason, and nothing in the database
changes: not configured, forged, stale, oversized, malformed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.clock import FixedClock
from app.runtime import Runtime
from tests.api.payment_callback.helpers import (
    PAYMENT_SECRET,
    URL,
    Factory,
    Order,
    deliver,
    notice,
    snapshot,
)
from tests.conftest import BRIDGE_SECRET
from tests.factories import signed


def _body(order: Order, **changes: Any) -> bytes:
    body = notice(order.order_id)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return json.dumps(body, ensure_ascii=False).encode()


def test_not_configured_is_forbidden(
    runtime: Runtime,
    client: TestClient,
    factory: Factory,
    clock: FixedClock,
    order: Order,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        runtime, "settings", runtime.settings.model_copy(update={"payment_callback_secret": None})
    )
    before = snapshot(factory)

    response = deliver(client, clock, _body(order))

    assert response.status_code == 403
    reason = "payment callback is not configured (PAYMENT_CALLBACK_SECRET)"
    assert response.json() == {"ok": False, "reason": reason}
    assert snapshot(factory) == before


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"order_id": None}, "order_id"),
        ({"order_id": "1"}, "order_id"),
        ({"order_id": 1.0}, "order_id"),
        ({"order_id": True}, "order_id"),
        ({"order_id": 0}, "order_id"),
        ({"order_id": 2**31}, "order_id"),
        ({"payment_ref": None}, "payment_ref"),
        ({"payment_ref": ""}, "payment_ref"),
        ({"payment_ref": "   "}, "payment_ref"),
        ({"payment_ref": "wx\x00-1"}, "payment_ref"),
        ({"payment_ref": "x" * 129}, "payment_ref"),
        ({"payment_ref": 42}, "payment_ref"),
        ({"amount_cents": None}, "amount_cents"),
        ({"amount_cents": "29.90"}, "amount_cents"),
        ({"amount_cents": 29.9}, "amount_cents"),
        ({"amount_cents": -1}, "amount_cents"),
        ({"amount_cents": 10**13}, "amount_cents"),
        ({"paid_at": "yesterday"}, "paid_at"),
        ({"paid_at": 12}, "paid_at"),
        ({"paid_at": 10**12}, "paid_at"),
    ],
)
def test_invalid_fields(
    client: TestClient,
    factory: Factory,
    clock: FixedClock,
    order: Order,
    changes: dict[str, Any],
    reason: str,
) -> None:
    before = snapshot(factory)

    response = deliver(client, clock, _body(order, **changes))

    assert response.status_code == 422
    assert response.json()["ok"] is False
    assert response.json()["reason"].startswith(reason)
    assert snapshot(factory) == before


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "JSON"),
        (b"{", "JSON"),
        (b"[1, 2]", "object"),
        (b'"paid"', "object"),
        ('{"order_id": 1}'.encode("utf-16"), "UTF-8"),
        (b"<xml><order_id>1</order_id></xml>", "JSON"),
    ],
)
def test_unparseable_bodies(
    client: TestClient, factory: Factory, clock: FixedClock, order: Order, body: bytes, reason: str
) -> None:
    before = snapshot(factory)

    response = deliver(client, clock, body)

    assert response.status_code == 422
    assert reason in response.json()["reason"]
    assert snapshot(factory) == before


def test_paid_at_beyond_the_timestamp_window_is_refused(
    client: TestClient, factory: Factory, clock: FixedClock, order: Order
) -> None:
    before = snapshot(factory)
    ahead = int(clock.now().timestamp()) + 301

    response = deliver(client, clock, _body(order, paid_at=ahead))

    assert response.status_code == 422
    assert response.json()["reason"] == "paid_at: in the future"
    assert snapshot(factory) == before


def test_paid_at_slightly_ahead_and_extra_fields_are_accepted(
    client: TestClient, clock: FixedClock, order: Order
) -> None:
    ahead = int(clock.now().timestamp()) + 300
    body = _body(order, paid_at=ahead, currency="CNY", buyer={"nick": "小满"})

    response = deliver(client, clock, body)

    assert response.json() == {"ok": True, "status": "paid"}


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86400])
def test_stale_and_future_timestamps(
    client: TestClient, factory: Factory, clock: FixedClock, order: Order, offset: int
) -> None:
    before = snapshot(factory)

    response = deliver(client, clock, _body(order), at=clock.now() + timedelta(seconds=offset))

    assert response.status_code == 403
    assert "window" in response.json()["reason"]
    assert snapshot(factory) == before


@pytest.mark.parametrize("secret", ["wrong-secret-0123456789", BRIDGE_SECRET])
def test_signed_with_another_secret(
    client: TestClient, factory: Factory, clock: FixedClock, order: Order, secret: str
) -> None:
    before = snapshot(factory)

    response = deliver(client, clock, _body(order), secret=secret)

    assert response.status_code == 403
    assert response.json() == {"ok": False, "reason": "bad signature"}
    assert snapshot(factory) == before


def test_body_signed_then_tampered(
    client: TestClient, factory: Factory, clock: FixedClock, order: Order
) -> None:
    body, headers = signed(
        _body(order, amount_cents=1), PAYMENT_SECRET, timestamp=int(clock.now().timestamp())
    )
    before = snapshot(factory)

    tampered = body.replace(b'"amount_cents": 1', b'"amount_cents": 2990')
    response = client.post(URL, content=tampered, headers=headers)

    assert response.status_code == 403
    assert snapshot(factory) == before


@pytest.mark.parametrize("header", ["X-Qunyun-Timestamp", "X-Qunyun-Signature"])
def test_missing_headers(
    client: TestClient, factory: Factory, clock: FixedClock, order: Order, header: str
) -> None:
    body, headers = signed(_body(order), PAYMENT_SECRET, timestamp=int(clock.now().timestamp()))
    del headers[header]
    before = snapshot(factory)

    response = client.post(URL, content=body, headers=headers)

    assert response.status_code == 403
    assert snapshot(factory) == before


def test_non_numeric_timestamp(
    client: TestClient, factory: Factory, clock: FixedClock, order: Order
) -> None:
    body, headers = signed(_body(order), PAYMENT_SECRET, timestamp=int(clock.now().timestamp()))
    headers["X-Qunyun-Timestamp"] = "1e9"
    before = snapshot(factory)

    response = client.post(URL, content=body, headers=headers)

    assert response.status_code == 400
    assert snapshot(factory) == before


@pytest.mark.parametrize("size", [64 * 1024 + 1, 10 * 1024 * 1024])
def test_a_body_over_the_cap_is_refused_before_parsing(
    client: TestClient, factory: Factory, clock: FixedClock, order: Order, size: int
) -> None:
    body = _body(order)
    padded = body[:-1] + b" " * (size - len(body)) + b"}"
    before = snapshot(factory)

    response = deliver(client, clock, padded)

    assert response.status_code == 413
    assert response.json() == {"ok": False, "reason": "body too large"}
    assert snapshot(factory) == before
