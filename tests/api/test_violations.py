"""GET /api/v1/violations (SPEC shape, filters, paging, CSV), confirm/overturn, appeals, tasks."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from app.clock import FixedClock
from app.runtime import Runtime
from tests.moderation.db_helpers import (
    WECOM_GROUP,
    in_services,
    member_pk,
    message,
    moderate,
    say,
)

AD = "大家好加微信领福利"
SPEC_FIELDS = {"id", "chat_id", "user_id", "rule", "category", "text", "action", "created_at"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/violations"),
        ("get", "/api/v1/violations.csv"),
        ("post", "/api/v1/violations/1/overturn"),
        ("get", "/api/v1/moderation/appeals"),
        ("get", "/api/v1/moderation/tasks"),
    ],
)
def test_the_log_needs_the_admin_token(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, headers={"Authorization": "Bearer wrong"})

    assert response.status_code == 401


def test_violations_have_the_spec_shape_and_filters(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: dict[str, str]
) -> None:
    say(runtime, clock, AD)
    clock.advance(days=1)
    say(runtime, clock, "煞笔客服", user="u-002")

    everything = client.get("/api/v1/violations", headers=admin_headers).json()
    mine = client.get(
        "/api/v1/violations", params={"user_id": "u-001"}, headers=admin_headers
    ).json()
    since = client.get(
        "/api/v1/violations", params={"since": "2026-11-24"}, headers=admin_headers
    ).json()
    other_group = client.get(
        "/api/v1/violations", params={"chat_id": "g-unknown"}, headers=admin_headers
    ).json()

    assert [item["user_id"] for item in everything["items"]] == ["u-002", "u-001"]
    first = mine["items"][0]
    assert SPEC_FIELDS | {"status"} <= set(first)
    assert (first["chat_id"], first["rule"], first["category"], first["text"]) == (
        "g-001",
        "banned_words.ad",
        "ad",
        AD,
    )
    assert first["action"] == "warn+notify_admins"
    assert first["status"] == "open"
    assert first["created_at"] == "2026-11-23T09:30:00+08:00"
    assert (first["start"], first["end"], first["matched"]) == (3, 6, "加微信")
    assert [item["category"] for item in since["items"]] == ["abuse"]
    assert other_group == {"items": [], "total": 0, "limit": 100, "offset": 0, "next_offset": None}


def test_paging_and_bad_filters(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: dict[str, str]
) -> None:
    for _ in range(3):
        say(runtime, clock, AD)
        clock.advance(minutes=1)

    page = client.get("/api/v1/violations?limit=2", headers=admin_headers).json()
    rest = client.get("/api/v1/violations?limit=2&offset=2", headers=admin_headers).json()
    bad_since = client.get("/api/v1/violations?since=yesterday", headers=admin_headers)
    bad_status = client.get("/api/v1/violations?status=maybe", headers=admin_headers)

    assert (len(page["items"]), page["total"], page["next_offset"]) == (2, 3, 2)
    assert (len(rest["items"]), rest["next_offset"]) == (1, None)
    assert bad_since.status_code == 422
    assert "since" in bad_since.json()["detail"]
    assert bad_status.status_code == 422


def test_csv_export(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: dict[str, str]
) -> None:
    say(runtime, clock, "=HYPERLINK 加微信领福利")

    response = client.get("/api/v1/violations.csv", headers=admin_headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert len(rows) == 1
    assert rows[0]["rule"] == "banned_words.ad"
    assert rows[0]["text"] == "'=HYPERLINK 加微信领福利"  # not a formula in a spreadsheet


def test_overturn_reverses_the_penalties_and_confirm_refuses_afterwards(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: dict[str, str]
) -> None:
    say(runtime, clock, "你好")
    pk = member_pk(runtime)
    in_services(runtime, lambda s: s.points.apply(pk, 30, "campaign", "test:seed"))
    say(runtime, clock, "煞笔客服")

    overturned = client.post(
        "/api/v1/violations/1/overturn",
        json={"note": "在说自己", "reviewer": "店长"},
        headers=admin_headers,
    )
    again = client.post("/api/v1/violations/1/overturn", json={}, headers=admin_headers)
    confirm = client.post("/api/v1/violations/1/confirm", json={}, headers=admin_headers)
    missing = client.post("/api/v1/violations/99/confirm", json={}, headers=admin_headers)

    assert overturned.status_code == 200
    body = overturned.json()
    assert (body["status"], body["reviewed_by"], body["review_note"]) == (
        "overturned",
        "店长",
        "在说自己",
    )
    assert body["reversal"]["refunded_points"] == 10
    assert in_services(runtime, lambda s: s.points.account(pk).balance) == 30
    assert again.status_code == 409
    assert confirm.status_code == 409
    assert missing.status_code == 404


def test_confirm_marks_the_case(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: dict[str, str]
) -> None:
    say(runtime, clock, AD)

    response = client.post("/api/v1/violations/1/confirm", json={}, headers=admin_headers)
    detail = client.get("/api/v1/violations/1", headers=admin_headers).json()

    assert response.json()["status"] == "confirmed"
    assert detail["status"] == "confirmed"
    assert detail["reviewed_by"] == "admin"
    assert detail["appeal"] is None


def test_appeals_are_listed_and_resolved(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: dict[str, str]
) -> None:
    say(runtime, clock, AD)
    say(runtime, clock, "申诉 我发的是店里的客服微信")

    listed = client.get("/api/v1/moderation/appeals", headers=admin_headers).json()
    bad = client.post(
        "/api/v1/moderation/appeals/1/resolve", json={"decision": "maybe"}, headers=admin_headers
    )
    accepted = client.post(
        "/api/v1/moderation/appeals/1/resolve",
        json={"decision": "accept", "note": "是客服号"},
        headers=admin_headers,
    )
    twice = client.post(
        "/api/v1/moderation/appeals/1/resolve", json={"decision": "reject"}, headers=admin_headers
    )

    (item,) = listed["items"]
    assert (item["case_id"], item["reason"], item["status"]) == (
        1,
        "我发的是店里的客服微信",
        "open",
    )
    assert item["case"]["rule"] == "banned_words.ad"
    assert bad.status_code == 422
    assert accepted.json()["appeal"]["status"] == "accepted"
    assert accepted.json()["case"]["status"] == "overturned"
    assert twice.status_code == 409
    assert client.get("/api/v1/moderation/appeals", headers=admin_headers).json()["items"] == []


def test_owner_tasks_are_listed_and_marked_done(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: dict[str, str]
) -> None:
    for _ in range(2):
        moderate(runtime, message(AD, clock, chat=WECOM_GROUP, user="ext-1"))
        clock.advance(minutes=5)

    listed = client.get("/api/v1/moderation/tasks", headers=admin_headers).json()
    done = client.post("/api/v1/moderation/tasks/1/done", json={}, headers=admin_headers)
    again = client.post("/api/v1/moderation/tasks/1/done", json={}, headers=admin_headers)

    (task,) = listed["items"]
    assert (task["kind"], task["platform"], task["chat_id"], task["user_id"]) == (
        "remove_member",
        "wecom_bot",
        "wrkGroup01",
        "ext-1",
    )
    assert done.json()["status"] == "done"
    assert again.status_code == 409
