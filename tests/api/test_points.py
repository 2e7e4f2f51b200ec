"""Points admin API and 签到 end to end through the bridge callback and the real inbox."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.clock import FixedClock
from app.db.models import CheckinCampaign, OutboxRow, PointsAccount, PointsEntry
from app.runtime import Runtime
from tests.conftest import BRIDGE_SECRET
from tests.factories import bridge_event, signed
from tests.points_helpers import apply, count, entries, seed_member

Headers = dict[str, str]


def _send(client: TestClient, runtime: Runtime, clock: FixedClock, event: dict[str, Any]) -> Any:
    body, headers = signed(event, BRIDGE_SECRET, timestamp=int(clock.now().timestamp()))
    response = client.post("/callbacks/bridge", content=body, headers=headers)
    assert response.status_code == 200
    runtime.worker.drain()
    return response.json()


def _replies(runtime: Runtime) -> list[str]:
    with runtime.deps.session_factory() as session:
        return list(session.scalars(select(OutboxRow.text).order_by(OutboxRow.id)))


def _balance(client: TestClient, headers: Headers, user: str = "u-001") -> httpx.Response:
    response: httpx.Response = client.get(
        "/api/v1/points/balance", params={"user_id": user}, headers=headers
    )
    return response


@pytest.fixture
def member(runtime: Runtime, clock: FixedClock) -> int:
    return seed_member(runtime.deps.session_factory, clock.now())[0]


# -- 签到 through the webhook ------------------------------------------------------------------
def test_checkin_from_webhook_to_reply_and_balance(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: Headers
) -> None:
    _send(client, runtime, clock, bridge_event("签到", at=clock.now()))

    assert _replies(runtime)[0].startswith("小满 签到成功，今天第 1 位签到")
    response = _balance(client, admin_headers)
    assert response.status_code == 200
    body = response.json()
    assert (body["balance"], body["level"], body["level_name"]) == (10, 1, "萌芽")
    assert body["next_level"] == {"level": 2, "name": "含苞", "gap": 90}


def test_a_retried_message_id_pays_once(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: Headers
) -> None:
    event = bridge_event("签到", at=clock.now(), id="bridge-checkin-1")

    first = _send(client, runtime, clock, event)
    retry = _send(client, runtime, clock, event)

    assert first == {"ok": True}
    assert retry == {"ok": True, "duplicate": True}
    assert _balance(client, admin_headers).json()["balance"] == 10
    assert len(entries(runtime.deps.session_factory)) == 1
    assert len(_replies(runtime)) == 1


def test_a_retry_racing_the_original_through_two_workers_pays_once(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: Headers
) -> None:
    event = bridge_event("签到", at=clock.now(), id="bridge-race-1")
    body, headers = signed(event, BRIDGE_SECRET, timestamp=int(clock.now().timestamp()))
    start = threading.Barrier(4, timeout=30)

    def deliver() -> Any:
        start.wait()
        return client.post("/callbacks/bridge", content=body, headers=headers).json()

    def work() -> int:
        start.wait()
        return runtime.worker.drain()

    with ThreadPoolExecutor(max_workers=4) as pool:
        deliveries = [pool.submit(deliver) for _ in range(2)]
        workers = [pool.submit(work) for _ in range(2)]
        answers = sorted((f.result() for f in deliveries), key=len)
        processed = sum(f.result() for f in workers) + runtime.worker.drain()

    assert answers == [{"ok": True}, {"ok": True, "duplicate": True}]
    assert processed == 1
    assert _balance(client, admin_headers).json()["balance"] == 10
    assert len(entries(runtime.deps.session_factory)) == 1
    assert len(_replies(runtime)) == 1


def test_a_second_checkin_message_gets_the_friendly_answer(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: Headers
) -> None:
    _send(client, runtime, clock, bridge_event("签到", at=clock.now()))
    clock.advance(minutes=1)
    _send(client, runtime, clock, bridge_event("@群助手 打卡", at=clock.now()))

    assert "今天已签到" in _replies(runtime)[1]
    assert _balance(client, admin_headers).json()["balance"] == 10


def test_balance_needs_the_token_and_a_known_member(
    client: TestClient, admin_headers: Headers
) -> None:
    unauthorized = client.get("/api/v1/points/balance", params={"user_id": "u-001"})
    unknown = _balance(client, admin_headers, "u-nobody")

    assert unauthorized.status_code == 401
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "unknown member bridge:u-nobody"}


# -- manual adjustments -------------------------------------------------------------------------
def _adjust(client: TestClient, headers: Headers, **body: Any) -> httpx.Response:
    payload = {"user_id": "u-001", "delta": 50, "reason": "线下活动奖励", **body}
    response: httpx.Response = client.post(
        "/api/v1/points/adjustments", json=payload, headers=headers
    )
    return response


def test_an_adjustment_is_audited_and_retry_safe(
    client: TestClient, runtime: Runtime, admin_headers: Headers, member: int
) -> None:
    first = _adjust(client, admin_headers, operator="店长", idempotency_key="req-1")
    again = _adjust(client, admin_headers, operator="店长", idempotency_key="req-1")

    assert first.status_code == 200
    assert (first.json()["status"], first.json()["balance"]) == ("applied", 50)
    assert (again.json()["status"], again.json()["balance"]) == ("duplicate", 50)
    [entry] = entries(runtime.deps.session_factory, member)
    assert (entry.reason, entry.operator, entry.note) == ("admin_award", "店长", "线下活动奖励")


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"user_id": "u-nobody"}, 404, "unknown member bridge:u-nobody"),
        ({"delta": 0}, 422, "delta must not be zero"),
        ({"delta": 100_001}, 422, "delta must be between -100000 and 100000"),
        ({"delta": -999_999_999}, 422, "delta must be between -100000 and 100000"),
        ({"reason": "   "}, 422, "a reason is required"),
        ({"chat_id": "g-nowhere"}, 404, "unknown chat bridge:g-nowhere"),
        ({"delta": -60}, 409, "insufficient points: balance is 0, cannot deduct 60"),
    ],
)
def test_bad_adjustments_are_refused_and_write_nothing(
    client: TestClient,
    runtime: Runtime,
    admin_headers: Headers,
    member: int,
    body: dict[str, Any],
    status: int,
    detail: str,
) -> None:
    response = _adjust(client, admin_headers, **body)

    assert response.status_code == status
    assert response.json() == {"detail": detail}
    assert count(runtime.deps.session_factory, PointsEntry) == 0
    assert count(runtime.deps.session_factory, PointsAccount) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": "u-001", "delta": 5},  # no reason
        {"user_id": "u-001", "reason": "x"},  # no delta
        {"user_id": "u-001", "delta": "5", "reason": "x"},  # not a number
        {"user_id": "u-001", "delta": 2.5, "reason": "x"},
        {"user_id": "u-001", "delta": 5, "reason": "x", "extra": 1},
    ],
)
def test_malformed_adjustments_are_422(
    client: TestClient,
    runtime: Runtime,
    admin_headers: Headers,
    member: int,
    body: dict[str, Any],
) -> None:
    response = client.post("/api/v1/points/adjustments", json=body, headers=admin_headers)

    assert response.status_code == 422
    assert count(runtime.deps.session_factory, PointsEntry) == 0


def test_an_adjustment_that_levels_up_tells_the_member(
    client: TestClient, runtime: Runtime, admin_headers: Headers, member: int
) -> None:
    response = _adjust(client, admin_headers, delta=120)

    assert response.json()["level_up"] == 2
    with runtime.deps.session_factory() as session:
        notice = session.scalars(select(OutboxRow)).one()
    assert (notice.target, notice.mention_ids) == ("g-001", ["u-001"])
    assert notice.text.startswith("🎉 恭喜 小满 升级到 Lv2 含苞")


def test_the_balance_lists_the_generated_early_access_privilege(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: Headers, member: int
) -> None:
    apply(runtime.deps.session_factory, clock, member, 1500, "earned")

    body = _balance(client, admin_headers).json()

    assert (body["level"], body["privileges"][-1]) == (4, "限时秒杀提前 5 分钟")


# -- campaign rewards ---------------------------------------------------------------------------
def test_campaign_rewards_pay_each_member_once(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: Headers
) -> None:
    for user in ("u-1", "u-2"):
        seed_member(runtime.deps.session_factory, clock.now(), user=user)
    body = {"campaign": "晒单有礼", "user_ids": ["u-1", "u-2"], "points": 30, "reason": "晒单"}

    first = client.post("/api/v1/points/campaign-rewards", json=body, headers=admin_headers)
    again = client.post("/api/v1/points/campaign-rewards", json=body, headers=admin_headers)
    unknown = client.post(
        "/api/v1/points/campaign-rewards",
        json={**body, "campaign": "新活动", "user_ids": ["u-1", "u-x"]},
        headers=admin_headers,
    )

    assert [i["status"] for i in first.json()["items"]] == ["applied", "applied"]
    assert [i["status"] for i in again.json()["items"]] == ["duplicate", "duplicate"]
    assert (unknown.status_code, unknown.json()["detail"]) == (404, "unknown members: u-x")
    assert [e.delta for e in entries(runtime.deps.session_factory, reason="campaign")] == [30, 30]


# -- ledger query, CSV, member detail, verify --------------------------------------------------
def test_ledger_filters_and_csv_export(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: Headers, member: int
) -> None:
    factory = runtime.deps.session_factory
    other, _ = seed_member(factory, clock.now(), user="u-002", name="=HYPERLINK(1)")
    apply(factory, clock, member, 10, "k1", reason="checkin")
    clock.advance(days=1)
    apply(factory, clock, member, 20, "k2")
    apply(factory, clock, other, 5, "k3", reason="checkin")
    url = "/api/v1/points/ledger"

    mine = client.get(url, params={"user_id": "u-001"}, headers=admin_headers).json()["items"]
    checkins = client.get(url, params={"reason": "checkin"}, headers=admin_headers).json()
    today = client.get(url, params={"since": "2026-11-24"}, headers=admin_headers).json()
    day_one = client.get(url, params={"until": "2026-11-23"}, headers=admin_headers).json()
    csv = client.get(url + ".csv", params={"user_id": "u-001"}, headers=admin_headers)
    everyone = client.get(url + ".csv", headers=admin_headers).text

    assert [(i["user_id"], i["delta"]) for i in mine] == [("u-001", 10), ("u-001", 20)]
    assert [i["user_id"] for i in checkins["items"]] == ["u-001", "u-002"]
    assert [i["delta"] for i in today["items"]] == [20, 5]
    assert [i["delta"] for i in day_one["items"]] == [10]
    assert mine[0]["created_at"] == "2026-11-23T09:30:00+08:00"
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("id,created_at,platform,user_id,member_name,chat_id,delta")
    assert len(lines) == 3
    assert ",签到," in lines[1]
    assert ",'=HYPERLINK(1)," in everyone  # no formula injection into spreadsheets


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"reason": "Not A Code"}, 422),
        ({"since": "yesterday"}, 422),
        ({"since": "2026-11-24", "until": "2026-11-23"}, 422),
        ({"user_id": "u-nobody"}, 404),
        ({"chat_id": "g-nowhere"}, 404),
        ({"limit": 0}, 422),
    ],
)
def test_bad_ledger_filters(
    client: TestClient, admin_headers: Headers, params: dict[str, Any], status: int
) -> None:
    response = client.get("/api/v1/points/ledger", params=params, headers=admin_headers)

    assert response.status_code == status


def test_member_detail_shows_balance_level_streak_and_history(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: Headers
) -> None:
    for _ in range(3):
        _send(client, runtime, clock, bridge_event("签到", at=clock.now()))
        clock.advance(days=1)

    detail = client.get("/api/v1/points/members/u-001", headers=admin_headers).json()

    assert (detail["balance"], detail["streak"], detail["last_checkin"]) == (30, 3, "2026-11-25")
    assert [h["reason_label"] for h in detail["history"]] == ["签到", "签到", "签到"]


def test_verify_endpoint(client: TestClient, admin_headers: Headers, runtime: Runtime) -> None:
    body = client.get("/api/v1/points/verify", headers=admin_headers).json()

    assert body == {"ok": True, "accounts": 0, "entries": 0, "total_balance": 0, "problems": []}


# -- check-in campaigns and stats ---------------------------------------------------------------
def _campaign(clock: FixedClock, **fields: Any) -> dict[str, Any]:
    return {
        "name": "双11签到",
        "chat_ids": ["g-001"],
        "starts_at": (clock.now() - timedelta(hours=1)).isoformat(),
        "points": 20,
        "streak_bonuses": {"3": 30},
        **fields,
    }


def test_a_campaign_changes_the_checkin_reward_and_can_be_ended(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: Headers, member: int
) -> None:
    url = "/api/v1/points/checkin-campaigns"
    created = client.post(url, json=_campaign(clock), headers=admin_headers)
    campaign_id = created.json()["id"]
    _send(client, runtime, clock, bridge_event("签到", at=clock.now()))
    ended = client.patch(
        f"{url}/{campaign_id}", json={"ends_at": clock.now().isoformat()}, headers=admin_headers
    )
    clock.advance(days=1)
    _send(client, runtime, clock, bridge_event("签到", at=clock.now()))
    listed = client.get(url, headers=admin_headers).json()["items"]

    assert created.status_code == 200
    assert created.json()["chats"] == ["bridge:g-001"]
    assert ended.status_code == 200
    assert [e.delta for e in entries(runtime.deps.session_factory, member)] == [20, 10]
    assert [c["id"] for c in listed] == [campaign_id]


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"chat_ids": ["g-nowhere"]}, 404),
        ({"ends_at": "2026-11-01T00:00:00+08:00"}, 422),
        ({"starts_at": "2026-11-23T09:00:00"}, 422),  # no offset
        ({"points": -1}, 422),
        ({"streak_bonuses": {"0": 5}}, 422),
        ({"name": ""}, 422),
    ],
)
def test_bad_campaigns_are_refused(
    client: TestClient,
    runtime: Runtime,
    clock: FixedClock,
    admin_headers: Headers,
    member: int,
    fields: dict[str, Any],
    status: int,
) -> None:
    response = client.post(
        "/api/v1/points/checkin-campaigns", json=_campaign(clock, **fields), headers=admin_headers
    )

    assert response.status_code == status
    assert count(runtime.deps.session_factory, CheckinCampaign) == 0


def test_patching_an_unknown_campaign_is_404(client: TestClient, admin_headers: Headers) -> None:
    response = client.patch(
        "/api/v1/points/checkin-campaigns/999", json={"enabled": False}, headers=admin_headers
    )

    assert response.status_code == 404


def test_checkin_stats_per_day(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: Headers
) -> None:
    seed_member(runtime.deps.session_factory, clock.now(), user="u-quiet")
    _send(client, runtime, clock, bridge_event("签到", at=clock.now()))

    response = client.get(
        "/api/v1/points/checkin-stats",
        params={"chat_id": "g-001", "since": "2026-11-22", "until": "2026-11-23"},
        headers=admin_headers,
    )
    too_long = client.get(
        "/api/v1/points/checkin-stats", params={"since": "2026-01-01"}, headers=admin_headers
    )

    assert response.json()["items"] == [
        {"date": "2026-11-22", "checkins": 0, "members": 0, "rate": 0.0},
        {"date": "2026-11-23", "checkins": 1, "members": 2, "rate": 0.5},
    ]
    assert too_long.status_code == 422
