"""Admin tickets API: auth, a mention becomes a ticket, the answer is posted once with @member,
optionally joins the KB, and the SLA figures."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.clock import FixedClock
from app.db.models import OutboxRow
from app.faq.csv_io import write_kb_csv
from app.runtime import Runtime
from tests.conftest import BRIDGE_SECRET
from tests.factories import bridge_event, signed
from tests.faq.conftest import TINY_KB


def _ask(client: TestClient, runtime: Runtime, clock: FixedClock, text: str) -> None:
    event = bridge_event(text, at=clock.now(), mentioned_bot=True)
    body, headers = signed(event, BRIDGE_SECRET, timestamp=int(clock.now().timestamp()))
    assert client.post("/callbacks/bridge", content=body, headers=headers).status_code == 200
    runtime.worker.drain()


def _open_ticket(
    client: TestClient, headers: dict[str, str], runtime: Runtime, clock: FixedClock
) -> dict[str, Any]:
    client.post(
        "/api/v1/faq/import",
        content=write_kb_csv(TINY_KB).encode(),
        headers={**headers, "Content-Type": "text/csv"},
    )
    _ask(client, runtime, clock, "@小助手 你们能做婚礼现场布置吗")
    items = client.get("/api/v1/tickets", headers=headers).json()["items"]
    assert len(items) == 1
    return dict(items[0])


def _group_posts(runtime: Runtime) -> list[OutboxRow]:
    with runtime.deps.session_factory() as session:
        rows = session.scalars(select(OutboxRow).where(OutboxRow.idempotency_key.like("ticket:%")))
        return [r for r in rows if r.channel == "bridge"]


def test_tickets_api_requires_the_bearer_token(client: TestClient) -> None:
    assert client.get("/api/v1/tickets").status_code == 401
    assert client.post("/api/v1/tickets/1/answer", json={}).status_code == 401
    assert client.get("/api/v1/tickets/sla").status_code == 401


def test_a_mention_becomes_an_open_ticket_due_in_24_hours(
    client: TestClient, admin_headers: dict[str, str], runtime: Runtime, clock: FixedClock
) -> None:
    ticket = _open_ticket(client, admin_headers, runtime, clock)

    assert ticket["status"] == "open"
    assert ticket["chat_id"] == "g-001"
    assert ticket["user_id"] == "u-001"
    assert ticket["created_at"] == "2026-11-23T09:30:00+08:00"
    assert ticket["sla_due"] == "2026-11-24T09:30:00+08:00"


def test_the_operator_answer_is_posted_once_with_the_member_mentioned(
    client: TestClient, admin_headers: dict[str, str], runtime: Runtime, clock: FixedClock
) -> None:
    ticket = _open_ticket(client, admin_headers, runtime, clock)
    clock.advance(hours=2)
    url = f"/api/v1/tickets/{ticket['id']}"

    assigned = client.post(f"{url}/assign", json={"assignee": "阿青"}, headers=admin_headers)
    answered = client.post(
        f"{url}/answer", json={"answer": "可以，请私信店长。", "by": "阿青"}, headers=admin_headers
    )
    twice = client.post(
        f"{url}/answer", json={"answer": "再答一次", "by": "阿青"}, headers=admin_headers
    )
    runtime.outbox.drain()

    assert assigned.json()["assignee"] == "阿青"
    assert answered.status_code == 200
    assert answered.json()["status"] == "answered"
    assert twice.status_code == 409
    posts = _group_posts(runtime)
    assert [(p.target, p.mention_ids, p.status) for p in posts] == [("g-001", ["u-001"], "sent")]
    assert posts[0].text.endswith("：可以，请私信店长。")


def test_an_answer_can_join_the_knowledge_base(
    client: TestClient, admin_headers: dict[str, str], runtime: Runtime, clock: FixedClock
) -> None:
    ticket = _open_ticket(client, admin_headers, runtime, clock)

    response = client.post(
        f"/api/v1/tickets/{ticket['id']}/answer",
        json={
            "answer": "婚礼布置可以预约，提前两周联系店长。",
            "by": "阿青",
            "add_to_kb": True,
            "entry_id": "W1",
            "question": "能做婚礼现场布置吗？",
        },
        headers=admin_headers,
    )
    match = client.post(
        "/api/v1/faq/match", json={"q": "婚礼现场布置能做吗？"}, headers=admin_headers
    ).json()

    assert response.json()["faq_entry_id"] == "W1"
    assert match["entry_id"] == "W1"


def test_sla_figures_and_unknown_tickets(
    client: TestClient, admin_headers: dict[str, str], runtime: Runtime, clock: FixedClock
) -> None:
    ticket = _open_ticket(client, admin_headers, runtime, clock)
    clock.advance(hours=3)
    client.post(
        f"/api/v1/tickets/{ticket['id']}/answer",
        json={"answer": "好的", "by": "阿青"},
        headers=admin_headers,
    )

    figures = client.get("/api/v1/tickets/sla", headers=admin_headers).json()
    unknown = client.get("/api/v1/tickets/999", headers=admin_headers)
    bad = client.post("/api/v1/tickets/999/answer", json={"by": "x"}, headers=admin_headers)

    assert figures["answered"] == 1
    assert figures["median_response_seconds"] == 3 * 3600
    assert figures["breached"] == 0
    assert unknown.status_code == 404
    assert bad.status_code == 422
