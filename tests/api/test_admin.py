"""Admin API: bearer auth, health, chats, the dead-letter list and retrying a dead delivery."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.clock import FixedClock
from app.outbox import OutboxDraft, enqueue
from app.runtime import Runtime


def test_api_requires_the_bearer_token(client: TestClient) -> None:
    assert client.get("/api/v1/outbox").status_code == 401
    wrong = client.get("/api/v1/outbox", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert client.get("/api/v1/chats", headers={"Authorization": "Basic x"}).status_code == 401


def test_healthz_answers_when_the_database_does(client: TestClient, runtime: Runtime) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] == runtime.engine.dialect.name


def test_register_a_chat_and_list_by_tag(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    created = client.put(
        "/api/v1/chats",
        json={"chat_id": "g-009", "name": "核心群", "profile": "core", "tags": ["核心", "杭州"]},
        headers=admin_headers,
    )
    listed = client.get("/api/v1/chats", params={"tag": "核心"}, headers=admin_headers)

    assert created.status_code == 200
    assert created.json()["profile"] == "core"
    assert [c["chat_id"] for c in listed.json()["items"]] == ["g-009"]


def test_bad_chat_input_is_422_and_nothing_written(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = client.put("/api/v1/chats", json={"chat_id": ""}, headers=admin_headers)

    assert response.status_code == 422
    assert client.get("/api/v1/chats", headers=admin_headers).json()["items"] == []


def test_dead_deliveries_are_listed_and_can_be_retried(
    client: TestClient, runtime: Runtime, clock: FixedClock, admin_headers: dict[str, str]
) -> None:
    with runtime.deps.session_factory() as session, session.begin():
        enqueue(
            session,
            [OutboxDraft("k-dead", "bridge", "g-001", "x", status="dead", note="boom")],
            now=clock.now(),
        )

    dead = client.get("/api/v1/outbox", params={"status": "dead"}, headers=admin_headers).json()
    retried = client.post(f"/api/v1/outbox/{dead['items'][0]['id']}/retry", headers=admin_headers)
    again = client.post(f"/api/v1/outbox/{dead['items'][0]['id']}/retry", headers=admin_headers)

    assert [item["key"] for item in dead["items"]] == ["k-dead"]
    assert dead["items"][0]["last_error"] == "boom"
    assert retried.status_code == 200
    assert again.status_code == 409
    assert client.post("/api/v1/outbox/999/retry", headers=admin_headers).status_code == 404
