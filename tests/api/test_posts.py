"""Admin API for posts and the calendar: SPEC shapes, review flow, bad input, preview,
customer-group confirmation, the robot blast estimate, campaigns."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.api.v1.posts import get_scheduler_config
from app.clock import FixedClock
from app.db.models import Chat, Post, PostRevision
from app.jobs.posts import enqueue_due_posts
from app.jobs.registry import JobContext
from app.runtime import Runtime
from tests.conftest import SHANGHAI
from tests.jobs.test_posts import make_config

Headers = dict[str, str]


def _post(client: TestClient, headers: Headers, **body: Any) -> Any:
    payload = {
        "content": {"type": "text", "text": "本周花卉知识：冬天绿萝少浇水"},
        "targets": {"chat_ids": ["g-001"]},
        "schedule": {"at": "2026-11-23T10:00:00+08:00"},
        **body,
    }
    return client.post("/api/v1/posts", json=payload, headers=headers)


def _count(runtime: Runtime, model: type) -> int:
    with runtime.deps.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _tick(runtime: Runtime) -> None:
    enqueue_due_posts(JobContext(runtime.deps, make_config()))


@pytest.fixture
def app(client: TestClient) -> Iterator[FastAPI]:
    application: FastAPI = client.app  # type: ignore[assignment]
    yield application
    application.dependency_overrides.clear()


def test_spec_flow_create_approve_deliver(
    client: TestClient, admin_headers: Headers, runtime: Runtime, clock: FixedClock
) -> None:
    created = _post(client, admin_headers)

    assert created.status_code == 200
    post_id = created.json()["id"]
    assert created.json()["status"] == "draft"
    assert client.get(f"/api/v1/posts/{post_id}/deliveries", headers=admin_headers).json() == {
        "items": []
    }
    approved = client.post(f"/api/v1/posts/{post_id}/approve", headers=admin_headers)
    assert approved.status_code == 200
    assert approved.json()["status"] == "scheduled"
    assert approved.json()["next_due_at"] == "2026-11-23T10:00:00+08:00"

    planned = client.get(f"/api/v1/posts/{post_id}/deliveries", headers=admin_headers).json()
    assert [(i["chat_id"], i["due_at"], i["status"]) for i in planned["items"]] == [
        ("g-001", "2026-11-23T10:00:00+08:00", "queued")
    ]
    assert planned["items"][0]["planned"] is True

    clock.set(datetime(2026, 11, 23, 10, 0, 1, tzinfo=SHANGHAI))
    _tick(runtime)
    queued = client.get(f"/api/v1/posts/{post_id}/deliveries", headers=admin_headers).json()
    runtime.outbox.drain()
    sent = client.get(f"/api/v1/posts/{post_id}/deliveries", headers=admin_headers).json()

    assert [(i["status"], i["planned"]) for i in queued["items"]] == [("queued", False)]
    assert [i["status"] for i in sent["items"]] == ["sent"]
    assert client.get(f"/api/v1/posts/{post_id}", headers=admin_headers).json()["status"] == "done"


def test_cron_post_and_listing(client: TestClient, admin_headers: Headers) -> None:
    created = _post(
        client, admin_headers, schedule={"cron": "0 9 * * 1", "days": "workdays"}, title="周一早安"
    ).json()
    client.post(
        f"/api/v1/posts/{created['id']}/approve", headers=admin_headers, json={"by": "店长"}
    )

    listed = client.get("/api/v1/posts?status=scheduled", headers=admin_headers).json()["items"]

    assert [p["title"] for p in listed] == ["周一早安"]
    assert listed[0]["next_due_at"] == "2026-11-30T09:00:00+08:00"
    assert listed[0]["schedule"] == {
        "kind": "cron",
        "cron": "0 9 * * 1",
        "days": "workdays",
        "start": "2026-11-23T09:30:00+08:00",
    }
    assert listed[0]["approved_by"] == "店长"
    assert listed[0]["targets"]["chat_ids"] == ["g-001"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"content": {"type": "text", "text": ""}}, None),
        ({"content": {"type": "video", "url": "https://v.cn"}}, None),
        ({"schedule": {"cron": "0 9 * *"}}, "five fields"),
        ({"schedule": {"at": "2026-11-22T10:00:00+08:00"}}, "in the past"),
        ({"schedule": {}}, "exactly one"),
        ({"targets": {"chat_ids": []}}, None),
        ({"targets": {"chat_ids": ["g-1"], "platform": "qq"}}, None),
        ({"colour": "red"}, None),
    ],
)
def test_bad_input_is_422_and_writes_nothing(
    client: TestClient,
    admin_headers: Headers,
    runtime: Runtime,
    change: dict[str, Any],
    reason: str | None,
) -> None:
    response = _post(client, admin_headers, **change)

    assert response.status_code == 422
    if reason:
        assert reason in response.json()["detail"]
    assert _count(runtime, Post) == 0
    assert _count(runtime, Chat) == 0


def test_auth_state_errors_and_unknown_posts(client: TestClient, admin_headers: Headers) -> None:
    assert client.post("/api/v1/posts", json={}).status_code == 401
    post_id = _post(client, admin_headers).json()["id"]
    client.post(f"/api/v1/posts/{post_id}/submit", headers=admin_headers)
    assert (
        client.post(f"/api/v1/posts/{post_id}/approve", headers=admin_headers).status_code == 200
    )

    again = client.post(f"/api/v1/posts/{post_id}/approve", headers=admin_headers)

    assert again.status_code == 409
    assert "scheduled" in again.json()["detail"]
    assert client.post("/api/v1/posts/999/approve", headers=admin_headers).status_code == 404
    assert client.get("/api/v1/posts/999/deliveries", headers=admin_headers).status_code == 404


def test_edit_returns_to_draft_with_history_then_pause_and_cancel(
    client: TestClient, admin_headers: Headers, runtime: Runtime
) -> None:
    post_id = _post(client, admin_headers).json()["id"]
    client.post(f"/api/v1/posts/{post_id}/approve", headers=admin_headers)

    edited = client.patch(
        f"/api/v1/posts/{post_id}",
        json={"content": {"type": "markdown", "text": "**双十二** 预告"}, "by": "小满"},
        headers=admin_headers,
    )
    revisions = client.get(f"/api/v1/posts/{post_id}/revisions", headers=admin_headers).json()

    assert edited.status_code == 200
    assert (edited.json()["status"], edited.json()["version"]) == ("draft", 2)
    assert edited.json()["schedule"]["at"] == "2026-11-23T10:00:00+08:00"  # kept
    assert [r["action"] for r in revisions["items"]] == ["created", "approved", "edited"]
    assert revisions["items"][-1]["by"] == "小满"
    client.post(f"/api/v1/posts/{post_id}/approve", headers=admin_headers)
    assert (
        client.post(f"/api/v1/posts/{post_id}/pause", headers=admin_headers).json()["status"]
        == "paused"
    )
    assert (
        client.post(f"/api/v1/posts/{post_id}/resume", headers=admin_headers).json()["status"]
        == "scheduled"
    )
    cancelled = client.post(
        f"/api/v1/posts/{post_id}/cancel", json={"note": "不发了"}, headers=admin_headers
    )
    assert cancelled.json()["status"] == "cancelled"
    assert (
        client.patch(f"/api/v1/posts/{post_id}", json={}, headers=admin_headers).status_code == 409
    )
    assert _count(runtime, PostRevision) == 7


def test_preview_shows_each_channel_against_its_byte_limit(
    client: TestClient, admin_headers: Headers
) -> None:
    post_id = _post(client, admin_headers, content={"type": "text", "text": "花" * 1000}).json()[
        "id"
    ]

    preview = client.get(f"/api/v1/posts/{post_id}/preview", headers=admin_headers).json()

    robot = next(c for c in preview["channels"] if c["channel"] == "wecom_robot")
    assert robot["messages"][0] | {"text": ""} == {
        "kind": "text",
        "text": "",
        "bytes": 3000,
        "limit": 2048,
        "parts": 2,
    }
    assert robot["warnings"]


def test_platform_may_be_given_beside_the_targets(
    client: TestClient, admin_headers: Headers
) -> None:
    created = _post(client, admin_headers, platform="wecom_app", targets={"chat_ids": ["wr-9"]})

    assert created.status_code == 200
    assert created.json()["targets"]["chats"] == [
        {"platform": "wecom_app", "chat_id": "wr-9", "name": None}
    ]


def test_customer_groups_await_staff_confirmation(
    client: TestClient, admin_headers: Headers, runtime: Runtime, clock: FixedClock
) -> None:
    created = _post(
        client, admin_headers, targets={"chat_ids": ["wrOgQh"], "platform": "wecom_app"}
    ).json()
    post_id = created["id"]
    assert any("员工" in w for w in created["warnings"])
    client.post(f"/api/v1/posts/{post_id}/approve", headers=admin_headers)
    clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))
    _tick(runtime)
    runtime.outbox.drain()
    [item] = client.get(f"/api/v1/posts/{post_id}/deliveries", headers=admin_headers).json()[
        "items"
    ]
    assert item["status"] == "awaiting_confirmation"
    assert "员工" in item["note"]

    outbox_id = item["outbox_ids"][0]
    url = f"/api/v1/posts/{post_id}/deliveries/{outbox_id}/confirm"
    confirmed = client.post(url, headers=admin_headers)

    assert confirmed.json() == {"id": outbox_id, "status": "sent"}
    assert client.post(url, headers=admin_headers).status_code == 409
    assert (
        client.post(
            f"/api/v1/posts/{post_id}/deliveries/999/confirm", headers=admin_headers
        ).status_code
        == 404
    )


def test_a_50_group_robot_blast_shows_its_expected_finish(
    client: TestClient, admin_headers: Headers, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUNYUN_API_TEST_ROBOT", "key-x")
    config = make_config(robots={"ops": "QUNYUN_API_TEST_ROBOT"})
    app.dependency_overrides[get_scheduler_config] = lambda: config
    for i in range(50):
        client.put(
            "/api/v1/chats",
            json={"chat_id": f"g-{i:02d}", "tags": ["会员"], "robot": "ops"},
            headers=admin_headers,
        )
    post_id = _post(client, admin_headers, targets={"tags": ["会员"]}).json()["id"]

    approved = client.post(f"/api/v1/posts/{post_id}/approve", headers=admin_headers).json()

    # 18 messages a minute per robot: 18 at 10:00, 18 at 10:01, 14 at 10:02.
    assert approved["expected_finish_at"] == "2026-11-23T10:02:00+08:00"
    assert approved["warnings"] == []


def test_calendar_week_view_lists_planned_and_past_occurrences(
    client: TestClient, admin_headers: Headers, runtime: Runtime, clock: FixedClock
) -> None:
    client.put("/api/v1/chats", json={"chat_id": "g-002", "tags": ["会员"]}, headers=admin_headers)
    daily = _post(
        client,
        admin_headers,
        title="每日一花",
        schedule={"cron": "0 10 * * *"},
        targets={"chat_ids": ["g-001"], "tags": ["会员"]},
    ).json()["id"]
    client.post(f"/api/v1/posts/{daily}/approve", headers=admin_headers)
    _post(client, admin_headers, title="草稿", schedule={"at": "2026-11-25T12:00:00"})
    clock.set(datetime(2026, 11, 23, 10, 0, 5, tzinfo=SHANGHAI))
    _tick(runtime)
    runtime.outbox.drain()

    week = client.get("/api/v1/calendar?view=week&date=2026-11-25", headers=admin_headers).json()

    assert (week["start"], week["end"], week["timezone"]) == (
        "2026-11-23",
        "2026-11-30",
        "Asia/Shanghai",
    )
    items = week["items"]
    assert [i["title"] for i in items].count("每日一花") == 7
    first = items[0]
    assert (first["due_at"], first["state"]) == ("2026-11-23T10:00:00+08:00", "enqueued")
    assert sorted((d["chat_id"], d["status"]) for d in first["deliveries"]) == [
        ("g-001", "sent"),
        ("g-002", "sent"),
    ]
    later = next(i for i in items if i["due_at"] == "2026-11-24T10:00:00+08:00")
    assert later["state"] == "planned"
    assert {d["status"] for d in later["deliveries"]} == {"queued"}
    draft = next(i for i in items if i["title"] == "草稿")
    assert (draft["due_at"], draft["state"]) == ("2026-11-25T12:00:00+08:00", "draft")
    month = client.get("/api/v1/calendar?view=month&date=2026-11-25", headers=admin_headers).json()
    assert (month["start"], month["end"]) == ("2026-11-01", "2026-12-01")
    bad = client.get("/api/v1/calendar?start=2026-11-01&end=2027-06-01", headers=admin_headers)
    assert bad.status_code == 422
    assert (
        client.get("/api/v1/calendar?start=2026-11-01", headers=admin_headers).status_code == 422
    )


def test_campaign_announcements_follow_the_campaign(
    client: TestClient, admin_headers: Headers
) -> None:
    body = {
        "name": "双十二秒杀",
        "starts_at": "2026-12-12T10:00:00+08:00",
        "ends_at": "2026-12-12T22:00:00+08:00",
        "targets": {"chat_ids": ["g-001"]},
    }

    created = client.put("/api/v1/calendar/campaigns/flash-1212", json=body, headers=admin_headers)
    moved = client.put(
        "/api/v1/calendar/campaigns/flash-1212",
        json={**body, "starts_at": "2026-12-12T12:00:00+08:00"},
        headers=admin_headers,
    )
    shown = client.get("/api/v1/calendar/campaigns/flash-1212", headers=admin_headers).json()

    assert created.status_code == 200
    outcomes = {a["key"]: (a["outcome"], a["due_at"]) for a in created.json()["announcements"]}
    assert outcomes["preview_24h"] == ("created", "2026-12-11T10:00:00+08:00")
    assert outcomes["end"] == ("created", "2026-12-12T22:00:00+08:00")
    moved_outcomes = {a["key"]: (a["outcome"], a["due_at"]) for a in moved.json()["announcements"]}
    assert moved_outcomes["reminder_1h"] == ("moved", "2026-12-12T11:00:00+08:00")
    assert moved_outcomes["end"][0] == "unchanged"
    assert {a["status"] for a in shown["announcements"]} == {"scheduled"}
    bad = client.put(
        "/api/v1/calendar/campaigns/flash-1212",
        json={**body, "ends_at": "2026-12-11T00:00:00+08:00"},
        headers=admin_headers,
    )
    assert bad.status_code == 422
    assert client.get("/api/v1/calendar/campaigns/none", headers=admin_headers).status_code == 404
