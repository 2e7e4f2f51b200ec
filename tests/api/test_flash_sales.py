"""Admin API for flash sales: SPEC shapes, edit until the start, cancel, orders and CSV, mark
paid, funnel, winners, block list; bad input is a 4xx and writes nothing."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from app.clock import FixedClock
from app.db.models import Chat, FlashSale, Member
from app.runtime import Runtime
from app.services.points_config import load_points_config
from tests.conftest import SHANGHAI
from tests.flash_sale_helpers import claim, orders, seed_members, stock_of
from tests.points_helpers import apply, balance

TOMORROW_10 = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
SALE: dict[str, Any] = {
    "name": "周末秒杀",
    "chat_ids": ["g-001"],
    "starts_at": "2026-11-24T10:00:00+08:00",
    "ends_at": "2026-11-24T12:00:00+08:00",
    "items": [
        {"number": 3, "name": "红玫瑰花束", "price": "29.90", "stock": 100, "per_member_limit": 1},
        {"number": 5, "name": "多肉", "points_price": 200, "stock": 10},
    ],
}


@pytest.fixture
def members(runtime: Runtime, clock: FixedClock) -> list[int]:
    return seed_members(runtime.deps.session_factory, clock.now(), 3)[1]


def _create(client: TestClient, headers: dict[str, str], **changes: Any) -> int:
    response = client.post("/api/v1/flash-sales", json={**SALE, **changes}, headers=headers)
    assert response.status_code == 200, response.text
    sale_id: int = response.json()["id"]
    return sale_id


def _get(client: TestClient, headers: dict[str, str], sale_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/flash-sales/{sale_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _chat_pk(runtime: Runtime) -> int:
    with runtime.deps.session_factory() as session:
        pk = session.scalar(select(Chat.id).where(Chat.external_id == "g-001"))
    assert pk is not None
    return pk


def test_create_and_read_a_sale_in_the_spec_shape(
    client: TestClient, admin_headers: dict[str, str], members: list[int]
) -> None:
    sale_id = _create(client, admin_headers)

    body = _get(client, admin_headers, sale_id)

    assert body["id"] == sale_id
    assert body["status"] == "scheduled"
    assert body["starts_at"] == "2026-11-24T10:00:00+08:00"
    assert body["chat_ids"] == ["g-001"]
    assert [(i["number"], i["stock"], i["claimed"]) for i in body["items"]] == [
        (3, 100, 0),
        (5, 10, 0),
    ]
    assert body["items"][0]["price"] == "29.90"
    assert body["items"][1]["price"] == "0.00"
    assert body["payment_window_minutes"] == 15
    assert body["early_access"] is True
    assert [(a["key"], a["due_at"]) for a in body["announcements"]] == [
        ("flash_preview_24h", "2026-11-23T10:00:00+08:00"),
        ("flash_reminder_1h", "2026-11-24T09:00:00+08:00"),
        ("flash_reminder_10m", "2026-11-24T09:50:00+08:00"),
        ("flash_start", "2026-11-24T10:00:00+08:00"),
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"ends_at": "2026-11-24T09:00:00+08:00"},  # ends before it starts
        {"ends_at": "2026-11-22T09:00:00+08:00", "starts_at": "2026-11-22T08:00:00+08:00"},
        {"items": []},
        {"items": [{"number": 1, "name": "a", "price": "29.9.0", "stock": 1}]},
        {"items": [{"number": 1, "name": "a", "price": "-1", "stock": 1}]},
        {"items": [{"number": 1, "name": "a", "price": "1", "stock": 0}]},
        {"items": [{"number": 1, "name": "a", "stock": 1}]},  # neither price nor points
        {"items": [{"number": 1, "name": "a", "price": "1", "stock": 1}] * 2},  # same number
        {"min_level": 99},
        {"chat_ids": []},
        {"surprise": True},
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    client: TestClient, admin_headers: dict[str, str], runtime: Runtime, changes: dict[str, Any]
) -> None:
    body = {**SALE, "chat_ids": ["g-new"], **changes}

    response = client.post("/api/v1/flash-sales", json=body, headers=admin_headers)

    assert response.status_code == 422
    assert response.json()["detail"]
    with runtime.deps.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(FlashSale)) == 0
        assert session.scalar(select(func.count()).select_from(Chat)) == 0


def test_the_api_needs_the_token_and_known_ids(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    assert client.post("/api/v1/flash-sales", json=SALE).status_code == 401
    assert client.get("/api/v1/flash-sales/42", headers=admin_headers).status_code == 404
    assert client.get("/api/v1/flash-sales/42/orders", headers=admin_headers).status_code == 404


def test_moving_a_sale_before_it_starts_moves_its_announcements(
    client: TestClient, admin_headers: dict[str, str], members: list[int]
) -> None:
    sale_id = _create(client, admin_headers)

    response = client.patch(
        f"/api/v1/flash-sales/{sale_id}",
        json={"starts_at": "2026-11-24T14:00:00+08:00", "ends_at": "2026-11-24T16:00:00+08:00"},
        headers=admin_headers,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["starts_at"] == "2026-11-24T14:00:00+08:00"
    assert [a["due_at"] for a in body["announcements"]] == [
        "2026-11-23T14:00:00+08:00",
        "2026-11-24T13:00:00+08:00",
        "2026-11-24T13:50:00+08:00",
        "2026-11-24T14:00:00+08:00",
    ]
    assert [i["number"] for i in body["items"]] == [3, 5]  # items kept


def test_a_started_sale_cannot_be_edited(
    client: TestClient, admin_headers: dict[str, str], clock: FixedClock, members: list[int]
) -> None:
    sale_id = _create(client, admin_headers)
    clock.set(TOMORROW_10)

    response = client.patch(
        f"/api/v1/flash-sales/{sale_id}", json={"name": "改名"}, headers=admin_headers
    )

    assert response.status_code == 409
    assert "before it starts" in response.json()["detail"]
    assert _get(client, admin_headers, sale_id)["name"] == "周末秒杀"


def test_early_access_is_a_switch_and_ends_edits_when_it_opens(
    client: TestClient, admin_headers: dict[str, str], clock: FixedClock, members: list[int]
) -> None:
    opted_out = _create(client, admin_headers, early_access=False)
    sale_id = _create(client, admin_headers)
    url = f"/api/v1/flash-sales/{sale_id}"

    switched = client.patch(url, json={"early_access": False}, headers=admin_headers)
    client.patch(url, json={"early_access": True}, headers=admin_headers)
    clock.set(TOMORROW_10 - timedelta(minutes=10))  # Lv5 members may claim now
    late = client.patch(url, json={"name": "改名"}, headers=admin_headers)
    fine = client.patch(
        f"/api/v1/flash-sales/{opted_out}", json={"name": "改名"}, headers=admin_headers
    )

    assert _get(client, admin_headers, opted_out)["early_access"] is False
    assert switched.json()["early_access"] is False
    assert (late.status_code, fine.status_code) == (409, 200)
    assert "early access" in late.json()["detail"]


def test_the_status_shows_the_early_access_window_and_its_claims(
    client: TestClient,
    admin_headers: dict[str, str],
    runtime: Runtime,
    clock: FixedClock,
    members: list[int],
) -> None:
    factory = runtime.deps.session_factory
    sale_id = _create(client, admin_headers)
    opted_out = _create(client, admin_headers, early_access=False)
    apply(factory, clock, members[0], 5000, "to-lv5")  # the level with the longest lead
    lead = load_points_config().flash_sale_early_lead
    seen = []
    for at in (TOMORROW_10 - lead - timedelta(seconds=1), TOMORROW_10 - lead, TOMORROW_10):
        clock.set(at)
        if at == TOMORROW_10 - lead:
            assert claim(factory, clock, members[0], _chat_pk(runtime), 3).status == "claimed"
        listed = client.get("/api/v1/flash-sales", headers=admin_headers).json()["items"]
        seen.append({s["id"]: (s["status"], s["totals"]["claimed"]) for s in listed})

    assert seen == [
        {sale_id: ("scheduled", 0), opted_out: ("scheduled", 0)},
        {sale_id: ("early_access", 1), opted_out: ("scheduled", 0)},
        {sale_id: ("running", 1), opted_out: ("running", 0)},
    ]


def test_live_counts_orders_csv_and_mark_paid(
    client: TestClient,
    admin_headers: dict[str, str],
    runtime: Runtime,
    clock: FixedClock,
    members: list[int],
) -> None:
    factory = runtime.deps.session_factory
    sale_id = _create(client, admin_headers)
    with runtime.deps.session_factory.begin() as session:
        session.execute(update(Member).where(Member.id == members[1]).values(name="=cmd()"))
    clock.set(TOMORROW_10)
    first = claim(factory, clock, members[0], _chat_pk(runtime), 3)
    claim(factory, clock, members[1], _chat_pk(runtime), 3)
    assert first.order is not None

    paid = client.post(
        f"/api/v1/flash-sales/{sale_id}/orders/{first.order.id}/paid",
        json={"payment_ref": "wx-123", "by": "小满"},
        headers=admin_headers,
    )
    listing = client.get(f"/api/v1/flash-sales/{sale_id}/orders", headers=admin_headers)
    exported = client.get(f"/api/v1/flash-sales/{sale_id}/orders.csv", headers=admin_headers)

    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    item = _get(client, admin_headers, sale_id)["items"][0]
    assert (item["stock"], item["claimed"], item["paid"], item["pending"]) == (98, 2, 1, 1)
    assert [o["status"] for o in listing.json()["items"]] == ["paid", "pending"]
    assert listing.json()["items"][1]["pay_deadline"] == "2026-11-24T10:15:00+08:00"
    assert exported.text.startswith("\ufefforder_id,item_number")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert [(r["user_id"], r["status"], r["price"]) for r in rows] == [
        ("u-0000", "paid", "29.90"),
        ("u-0001", "pending", "29.90"),
    ]
    assert rows[1]["member_name"] == "'=cmd()"  # no formula injection


def test_paying_a_released_order_is_a_conflict(
    client: TestClient,
    admin_headers: dict[str, str],
    runtime: Runtime,
    clock: FixedClock,
    members: list[int],
) -> None:
    factory = runtime.deps.session_factory
    sale_id = _create(client, admin_headers)
    clock.set(TOMORROW_10)
    result = claim(factory, clock, members[0], _chat_pk(runtime), 3)
    assert result.order is not None
    url = f"/api/v1/flash-sales/{sale_id}/orders/{result.order.id}"

    cancelled = client.post(f"{url}/cancel", json={"note": "顾客不要了"}, headers=admin_headers)
    late = client.post(f"{url}/paid", json={}, headers=admin_headers)
    other = client.post(
        f"/api/v1/flash-sales/{sale_id + 1}/orders/{result.order.id}/paid",
        json={},
        headers=admin_headers,
    )

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert late.status_code == 409
    assert other.status_code == 404
    assert stock_of(factory, sale_id, 3) == 100


def test_cancelling_a_sale_refunds_points_and_stops_claims(
    client: TestClient,
    admin_headers: dict[str, str],
    runtime: Runtime,
    clock: FixedClock,
    members: list[int],
) -> None:
    factory = runtime.deps.session_factory
    sale_id = _create(
        client,
        admin_headers,
        items=[{"number": 5, "name": "多肉", "price": "9.90", "points_price": 20, "stock": 3}],
    )
    apply(factory, clock, members[0], 50, "gift")
    clock.set(TOMORROW_10)
    assert claim(factory, clock, members[0], _chat_pk(runtime), 5).status == "claimed"

    response = client.post(f"/api/v1/flash-sales/{sale_id}/cancel", json={}, headers=admin_headers)
    later = claim(factory, clock, members[1], _chat_pk(runtime), 5)

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["orders_cancelled"] == 1
    assert {a["status"] for a in response.json()["announcements"]} <= {"cancelled", "done"}
    assert balance(factory, members[0]) == 50
    assert stock_of(factory, sale_id, 5) == 3
    assert [o.status for o in orders(factory, sale_id)] == ["cancelled"]
    assert later.status == "no_sale"
    again = client.post(f"/api/v1/flash-sales/{sale_id}/cancel", json={}, headers=admin_headers)
    assert again.status_code == 409


def test_funnel_and_winners(
    client: TestClient,
    admin_headers: dict[str, str],
    runtime: Runtime,
    clock: FixedClock,
    members: list[int],
) -> None:
    factory = runtime.deps.session_factory
    sale_id = _create(client, admin_headers)
    clock.set(TOMORROW_10)
    won = [claim(factory, clock, m, _chat_pk(runtime), 3) for m in members[:2]]
    assert won[0].order is not None
    client.post(
        f"/api/v1/flash-sales/{sale_id}/orders/{won[0].order.id}/paid",
        json={},
        headers=admin_headers,
    )

    funnel = client.get(f"/api/v1/flash-sales/{sale_id}/funnel", headers=admin_headers).json()
    winners = client.get(f"/api/v1/flash-sales/{sale_id}/winners", headers=admin_headers).json()
    paid_only = client.get(
        f"/api/v1/flash-sales/{sale_id}/winners?paid_only=true", headers=admin_headers
    ).json()

    assert (funnel["reached"], funnel["claimed"], funnel["paid"]) == (3, 2, 1)
    assert funnel["claim_rate"] == round(2 / 3, 4)
    assert [(w["user_id"], w["item_number"]) for w in winners["items"]] == [
        ("u-0000", 3),
        ("u-0001", 3),
    ]
    assert [w["user_id"] for w in paid_only["items"]] == ["u-0000"]


def test_the_block_list_bars_members_from_claiming(
    client: TestClient,
    admin_headers: dict[str, str],
    runtime: Runtime,
    clock: FixedClock,
    members: list[int],
) -> None:
    factory = runtime.deps.session_factory
    _create(client, admin_headers)
    url = "/api/v1/flash-sales/blocklist"

    added = client.post(url, json={"user_id": "u-0000", "reason": "转卖"}, headers=admin_headers)
    listed = client.get(url, headers=admin_headers).json()
    unknown = client.post(url, json={"user_id": "nobody"}, headers=admin_headers)
    clock.set(TOMORROW_10)
    refused = claim(factory, clock, members[0], _chat_pk(runtime), 3)
    removed = client.delete(f"{url}/bridge/u-0000", headers=admin_headers)
    removed_again = client.delete(f"{url}/bridge/u-0000", headers=admin_headers)
    allowed = claim(factory, clock, members[0], _chat_pk(runtime), 3, key="after")

    assert added.status_code == 200
    assert [(b["user_id"], b["reason"]) for b in listed["items"]] == [("u-0000", "转卖")]
    assert unknown.status_code == 404
    assert (refused.status, refused.reason) == ("not_eligible", "blocked")
    assert removed.status_code == 200
    assert removed_again.status_code == 404
    assert allowed.status == "claimed"


def test_list_sales(client: TestClient, admin_headers: dict[str, str], members: list[int]) -> None:
    first = _create(client, admin_headers)
    later = _create(
        client,
        admin_headers,
        starts_at=(TOMORROW_10 + timedelta(days=1)).isoformat(),
        ends_at=(TOMORROW_10 + timedelta(days=1, hours=1)).isoformat(),
    )

    listed = client.get("/api/v1/flash-sales", headers=admin_headers).json()

    assert [s["id"] for s in listed["items"]] == [later, first]
