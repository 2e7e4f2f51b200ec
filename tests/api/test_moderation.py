"""/api/v1/moderation: rules per scope (bad config refused, old rules kept), the dry-run check,
imported words, whitelist and blacklist."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.clock import FixedClock
from app.db.models import ModerationActivity, ModerationCase, OutboxRow
from app.runtime import Runtime
from tests.moderation.db_helpers import cases, say

AD = "大家好加微信领福利"


def _rows(runtime: Runtime, model: type) -> int:
    with runtime.deps.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/moderation/rules"),
        ("put", "/api/v1/moderation/rules/defaults"),
        ("post", "/api/v1/moderation/check"),
        ("post", "/api/v1/moderation/whitelist"),
        ("post", "/api/v1/moderation/blacklist"),
        ("post", "/api/v1/moderation/terms"),
    ],
)
def test_everything_needs_the_admin_token(client: TestClient, method: str, path: str) -> None:
    assert client.request(method, path, json={}).status_code == 401


def test_the_dry_run_judges_without_side_effects(
    client: TestClient, runtime: Runtime, admin_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/moderation/check", json={"text": "加 微 信领福利"}, headers=admin_headers
    )
    card = client.post(
        "/api/v1/moderation/check", json={"type": "card", "title": "名片"}, headers=admin_headers
    )

    body = response.json()
    assert (body["violation"], body["category"]) == (True, "ad")
    assert body["rules"] == ["banned_words.ad", "evasion"]  # spaced out to evade: both rules
    assert body["hits"][0]["matched"] == "加 微 信"
    assert body["normalized"] == "加微信领福利"
    assert card.json()["rules"] == ["message_kinds"]
    for model in (ModerationCase, ModerationActivity, OutboxRow):
        assert _rows(runtime, model) == 0


def test_a_rule_change_takes_effect_without_a_restart(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: dict[str, str]
) -> None:
    say(runtime, clock, AD)
    changed = client.put(
        "/api/v1/moderation/rules/defaults",
        json={"rules": {"banned_words.ad": {"enabled": False}}},
        headers=admin_headers,
    )
    say(runtime, clock, AD, user="u-002")
    listed = client.get("/api/v1/moderation/rules", headers=admin_headers).json()

    assert changed.status_code == 200
    assert changed.json()["version"] == 1
    assert "banned_words.ad" not in [r["id"] for r in changed.json()["effective"]["rules"]]
    assert len(cases(runtime)) == 1  # the second member's message passed
    assert listed["version"] == 1
    assert [s["scope"] for s in listed["stored"]] == ["defaults"]


@pytest.mark.parametrize(
    ("path", "document", "named"),
    [
        ("profiles/core", {"rules": {"flood": {"max_messages": "many"}}}, "max_messages"),
        ("groups/g-001", {"profile": "vip"}, "no profile 'vip'"),
        ("defaults", {"settings": {"domain_whitelist": ["https://x.com/a"]}}, "not a host name"),
        ("defaults", {"ladders": {"default": {"steps": []}}}, "steps"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_message_and_the_old_rules_kept(
    client: TestClient,
    runtime: Runtime,
    clock: FixedClock,
    admin_headers: dict[str, str],
    path: str,
    document: dict[str, object],
    named: str,
) -> None:
    response = client.put(f"/api/v1/moderation/rules/{path}", json=document, headers=admin_headers)

    assert response.status_code == 422
    assert named in response.json()["detail"]
    listed = client.get("/api/v1/moderation/rules", headers=admin_headers).json()
    assert (listed["version"], listed["stored"]) == (0, [])
    assert say(runtime, clock, AD).routes == ("moderation",)


def test_a_rules_document_must_be_an_object(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = client.put(
        "/api/v1/moderation/rules/defaults", json=["not", "an", "object"], headers=admin_headers
    )

    assert response.status_code == 422


def test_a_group_scope_shows_stored_file_and_effective_rules(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    put = client.put(
        "/api/v1/moderation/rules/groups/g-001",
        json={"profile": "core", "group_rules_text": "只聊花"},
        headers=admin_headers,
    )
    shown = client.get("/api/v1/moderation/rules/groups/g-001", headers=admin_headers).json()
    profile = client.get("/api/v1/moderation/rules/profiles/core", headers=admin_headers).json()
    deleted = client.delete("/api/v1/moderation/rules/groups/g-001", headers=admin_headers)
    missing = client.delete("/api/v1/moderation/rules/groups/g-001", headers=admin_headers)
    unknown = client.get("/api/v1/moderation/rules/profiles/vip", headers=admin_headers)

    assert put.status_code == 200
    assert shown["stored"] == {"profile": "core", "group_rules_text": "只聊花"}
    assert shown["effective"]["settings"]["group_rules_text"] == "只聊花"
    assert shown["effective"]["scope"] == "group g-001"
    assert profile["file"]["description"].startswith("paying members")
    assert deleted.status_code == 204
    assert missing.status_code == 404
    assert unknown.status_code == 404


def test_words_imported_through_the_api(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: dict[str, str]
) -> None:
    added = client.post(
        "/api/v1/moderation/terms",
        json={"terms": ["蓝莓团购", "蓝 莓 团 购"], "category": "ad"},
        headers=admin_headers,
    )
    bad = client.post(
        "/api/v1/moderation/terms",
        json={"terms": ["!!!"], "category": "ad"},
        headers=admin_headers,
    )
    listed = client.get("/api/v1/moderation/terms", headers=admin_headers).json()

    assert added.json() == {"added": 1, "existing": 1, "version": 1}
    assert bad.status_code == 422
    assert "no letters or digits" in bad.json()["detail"]
    assert listed["total"] == 1
    assert say(runtime, clock, "周末蓝莓团购了").routes == ("moderation",)


def test_the_whitelist(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: dict[str, str]
) -> None:
    everywhere = client.post(
        "/api/v1/moderation/whitelist", json={"user_id": "u-partner"}, headers=admin_headers
    )
    one_group = client.post(
        "/api/v1/moderation/whitelist",
        json={"user_id": "u-helper", "chat_id": "g-001"},
        headers=admin_headers,
    )
    say(runtime, clock, AD, user="u-partner")
    say(runtime, clock, AD, user="u-helper")
    listed = client.get("/api/v1/moderation/whitelist", headers=admin_headers).json()
    removed = client.delete("/api/v1/moderation/whitelist/u-partner", headers=admin_headers)
    not_there = client.delete("/api/v1/moderation/whitelist/u-partner", headers=admin_headers)
    say(runtime, clock, AD, user="u-partner")

    assert (everywhere.status_code, one_group.status_code) == (200, 200)
    assert {(i["user_id"], i["scope"]) for i in listed["items"]} == {
        ("u-partner", "defaults"),
        ("u-helper", "group:g-001"),
    }
    assert removed.status_code == 200
    assert not_there.status_code == 404
    assert len(cases(runtime)) == 1  # only after the removal


def test_the_blacklist(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: dict[str, str]
) -> None:
    unknown = client.post(
        "/api/v1/moderation/blacklist", json={"user_id": "u-ghost"}, headers=admin_headers
    )
    say(runtime, clock, "你好", user="u-bad")
    added = client.post(
        "/api/v1/moderation/blacklist",
        json={"user_id": "u-bad", "reason": "多群发诈骗"},
        headers=admin_headers,
    )
    stopped = say(runtime, clock, "大家好", user="u-bad")
    listed = client.get("/api/v1/moderation/blacklist", headers=admin_headers).json()
    lifted = client.delete("/api/v1/moderation/blacklist/u-bad", headers=admin_headers)
    free = say(runtime, clock, "大家好", user="u-bad")

    assert unknown.status_code == 404
    assert added.json()["reason"] == "多群发诈骗"
    assert stopped.routes == ("moderation",)
    assert [i["user_id"] for i in listed["items"]] == ["u-bad"]
    assert lifted.json()["lifted"] == 1
    assert free.routes != ("moderation",)
    assert client.get("/api/v1/moderation/blacklist", headers=admin_headers).json()["items"] == []
