"""POST /callbacks/payment: a pending order is paid once; retries are duplicates; a payment no
order keeps is a 409 that changes nothing and tells the admins to refund."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.api.v1.posts import get_scheduler_config
from app.clock import FixedClock
from app.db.models import FlashSaleOrder, OutboxRow
from app.jobs.flash_sale_release import release_expired_orders
from app.jobs.registry import SchedulerConfig, load_scheduler_config
from app.runtime import Runtime
from tests.api.payment_callback.helpers import (
    DEADLINE,
    PAYMENT_SECRET,
    PRICE_CENTS,
    URL,
    Factory,
    Order,
    deliver,
    notice,
    snapshot,
)
from tests.factories import signed
from tests.flash_sale_helpers import START, run_together, stock_of


@pytest.fixture
def admins_chat(client: TestClient) -> Iterator[SchedulerConfig]:
    """The admins' chat configured (config/scheduler.toml [report] chat_id)."""
    app: FastAPI = client.app  # type: ignore[assignment]
    config = load_scheduler_config()
    config = config.model_copy(
        update={"report": config.report.model_copy(update={"chat_id": "g-admins"})}
    )
    app.dependency_overrides[get_scheduler_config] = lambda: config
    yield config
    app.dependency_overrides.clear()


def _order_row(factory: Factory, order_id: int) -> FlashSaleOrder:
    with factory() as session:
        row = session.get(FlashSaleOrder, order_id)
    assert row is not None
    return row


def _alerts(factory: Factory) -> list[OutboxRow]:
    with factory() as session:
        return list(
            session.scalars(
                select(OutboxRow)
                .where(OutboxRow.idempotency_key.like("alert:payment:%"))
                .order_by(OutboxRow.id)
            )
        )


def _release(runtime: Runtime, clock: FixedClock) -> None:
    clock.set(DEADLINE + timedelta(minutes=1))
    report = release_expired_orders(runtime.deps.session_factory, clock, runtime.settings)
    assert report.released == 1


def test_a_pending_order_is_paid_once_and_a_retry_changes_nothing(
    client: TestClient,
    admin_headers: dict[str, str],
    factory: Factory,
    clock: FixedClock,
    order: Order,
) -> None:
    clock.advance(minutes=3)

    first = deliver(client, clock, notice(order.order_id))
    paid = snapshot(factory)
    clock.advance(seconds=30)
    retry = deliver(client, clock, notice(order.order_id))

    assert (first.status_code, first.json()) == (200, {"ok": True, "status": "paid"})
    assert retry.status_code == 200
    assert retry.json() == {"ok": True, "status": "paid", "duplicate": True}
    assert snapshot(factory) == paid
    row = _order_row(factory, order.order_id)
    assert (row.status, row.payment_ref, row.operator) == (
        "paid",
        "wx-txn-0001",
        "payment-callback",
    )
    assert row.paid_at == START + timedelta(minutes=3)  # no paid_at: the clock's now
    listing = client.get(f"/api/v1/flash-sales/{order.sale_id}/orders", headers=admin_headers)
    assert [o["status"] for o in listing.json()["items"]] == ["paid"]


def test_paid_at_counts_and_a_late_payment_is_kept_if_not_released_yet(
    runtime: Runtime, client: TestClient, factory: Factory, clock: FixedClock, order: Order
) -> None:
    clock.set(DEADLINE + timedelta(minutes=2))  # past the deadline; the release job has not run
    paid_at = DEADLINE + timedelta(minutes=1)

    response = deliver(client, clock, notice(order.order_id, paid_at=int(paid_at.timestamp())))
    report = release_expired_orders(factory, clock, runtime.settings)

    assert response.json() == {"ok": True, "status": "paid"}
    assert _order_row(factory, order.order_id).paid_at == paid_at
    assert report.released == 0
    assert stock_of(factory, order.sale_id) == 4


def test_a_second_payment_under_another_reference_is_a_conflict(
    client: TestClient,
    factory: Factory,
    clock: FixedClock,
    order: Order,
    caplog: pytest.LogCaptureFixture,
) -> None:
    deliver(client, clock, notice(order.order_id, "wx-first"))
    before = snapshot(factory)

    with caplog.at_level(logging.WARNING):
        response = deliver(client, clock, notice(order.order_id, "wx-second-13812345678"))

    assert response.status_code == 409
    assert response.json()["ok"] is False
    assert "already paid under another payment_ref" in response.json()["reason"]
    assert snapshot(factory) == before  # no admins' chat configured: only logged
    assert any(r.message == "payment not accepted" for r in caplog.records)
    assert "13812345678" not in caplog.text
    assert _order_row(factory, order.order_id).payment_ref == "wx-first"


def test_admin_mark_paid_and_the_callback_agree(
    client: TestClient,
    admin_headers: dict[str, str],
    factory: Factory,
    clock: FixedClock,
    order: Order,
) -> None:
    url = f"/api/v1/flash-sales/{order.sale_id}/orders/{order.order_id}/paid"
    assert client.post(url, json={"payment_ref": "wx-1"}, headers=admin_headers).status_code == 200
    before = snapshot(factory)

    same = deliver(client, clock, notice(order.order_id, "wx-1"))
    other = deliver(client, clock, notice(order.order_id, "wx-2"))
    admin_again = client.post(url, json={"payment_ref": "wx-1"}, headers=admin_headers)

    assert same.json() == {"ok": True, "status": "paid", "duplicate": True}
    assert other.status_code == 409
    assert admin_again.status_code == 409
    assert snapshot(factory) == before


def test_a_payment_of_a_released_order_is_refused_and_the_admins_are_told_once(
    runtime: Runtime,
    client: TestClient,
    factory: Factory,
    clock: FixedClock,
    order: Order,
    admins_chat: SchedulerConfig,
) -> None:
    _release(runtime, clock)
    before = snapshot(factory)

    first = deliver(client, clock, notice(order.order_id, "wx-late"))
    after_first = snapshot(factory)
    retry = deliver(client, clock, notice(order.order_id, "wx-late"))

    for response in (first, retry):
        assert response.status_code == 409
        reason = f"order {order.order_id} is released; refund the payment"
        assert response.json() == {"ok": False, "reason": reason}
    assert snapshot(factory) == after_first  # the retry added nothing, not even an alert
    for table in ("flash_sale_orders", "flash_sale_items", "flash_sale_holdings"):
        assert after_first[table] == before[table]
    [alert] = _alerts(factory)
    assert alert.target == "g-admins"
    assert "已超时释放" in alert.text
    assert "wx-late" in alert.text
    assert "¥29.90" in alert.text
    assert stock_of(factory, order.sale_id) == 5


def test_a_payment_of_a_released_order_without_an_admins_chat_changes_nothing(
    runtime: Runtime,
    client: TestClient,
    factory: Factory,
    clock: FixedClock,
    order: Order,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _release(runtime, clock)
    before = snapshot(factory)

    with caplog.at_level(logging.WARNING):
        response = deliver(client, clock, notice(order.order_id))

    assert response.status_code == 409
    assert snapshot(factory) == before
    assert "no admins' chat configured" in caplog.text


def test_a_payment_of_a_cancelled_order_is_refused(
    client: TestClient,
    admin_headers: dict[str, str],
    factory: Factory,
    clock: FixedClock,
    order: Order,
    admins_chat: SchedulerConfig,
) -> None:
    cancel = f"/api/v1/flash-sales/{order.sale_id}/orders/{order.order_id}/cancel"
    assert client.post(cancel, json={}, headers=admin_headers).status_code == 200
    before = snapshot(factory)

    response = deliver(client, clock, notice(order.order_id))

    assert response.status_code == 409
    reason = f"order {order.order_id} is cancelled; refund the payment"
    assert response.json() == {"ok": False, "reason": reason}
    after = snapshot(factory)
    assert {t: r for t, r in after.items() if t not in ("outbox", "chats")} == {
        t: r for t, r in before.items() if t not in ("outbox", "chats")
    }
    [alert] = _alerts(factory)
    assert "已取消" in alert.text


def test_a_paid_order_cancelled_later_still_treats_the_retry_as_a_duplicate(
    client: TestClient,
    admin_headers: dict[str, str],
    factory: Factory,
    clock: FixedClock,
    order: Order,
) -> None:
    deliver(client, clock, notice(order.order_id))
    cancel = f"/api/v1/flash-sales/{order.sale_id}/orders/{order.order_id}/cancel"
    assert client.post(cancel, json={}, headers=admin_headers).status_code == 200
    before = snapshot(factory)

    retry = deliver(client, clock, notice(order.order_id))

    assert retry.json() == {"ok": True, "status": "cancelled", "duplicate": True}
    assert snapshot(factory) == before


def test_an_unknown_order_is_not_found(
    client: TestClient, factory: Factory, clock: FixedClock, order: Order
) -> None:
    before = snapshot(factory)

    response = deliver(client, clock, notice(order.order_id + 1000))

    assert response.status_code == 404
    assert response.json() == {"ok": False, "reason": f"no order {order.order_id + 1000}"}
    assert snapshot(factory) == before


@pytest.mark.parametrize("amount", [PRICE_CENTS - 1, PRICE_CENTS * 100, 0])
def test_an_amount_that_is_not_the_price_is_a_conflict(
    client: TestClient, factory: Factory, clock: FixedClock, order: Order, amount: int
) -> None:
    before = snapshot(factory)

    response = deliver(client, clock, notice(order.order_id, amount_cents=amount))

    assert response.status_code == 409
    assert "does not match" in response.json()["reason"]
    assert snapshot(factory) == before
    assert _order_row(factory, order.order_id).status == "pending"


def test_a_retry_with_another_amount_is_a_conflict_not_a_duplicate(
    client: TestClient, factory: Factory, clock: FixedClock, order: Order
) -> None:
    deliver(client, clock, notice(order.order_id))
    before = snapshot(factory)

    response = deliver(client, clock, notice(order.order_id, amount_cents=PRICE_CENTS + 1))

    assert response.status_code == 409
    assert "does not match" in response.json()["reason"]
    assert snapshot(factory) == before


def test_simultaneous_deliveries_over_http_pay_once(
    client: TestClient, factory: Factory, clock: FixedClock, order: Order
) -> None:
    content, headers = signed(
        notice(order.order_id), PAYMENT_SECRET, timestamp=int(clock.now().timestamp())
    )

    responses = run_together(
        list(range(8)), 8, lambda _: client.post(URL, content=content, headers=headers)
    )

    answers = [(r.status_code, r.json().get("duplicate", False)) for r in responses]
    assert sorted(answers) == [(200, False)] + [(200, True)] * 7
    assert _order_row(factory, order.order_id).status == "paid"
