"""POST /callbacks/bridge: signed events are stored once, processed, and answered."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import ChatMember, InboxRow, MemberEvent, OutboxRow
from app.runtime import Runtime
from tests.conftest import BRIDGE_SECRET
from tests.factories import bridge_event, signed


def _count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _post(client: TestClient, clock: FixedClock, event: dict | bytes, **kw: int):  # type: ignore[no-untyped-def,type-arg]
    body, headers = signed(
        event, BRIDGE_SECRET, timestamp=kw.get("ts", int(clock.now().timestamp()))
    )
    return client.post("/callbacks/bridge", content=body, headers=headers)


def test_help_goes_from_webhook_to_outbox_and_is_sent(
    client: TestClient, runtime: Runtime, clock: FixedClock
) -> None:
    response = _post(client, clock, bridge_event("帮助", at=clock.now()))

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert runtime.worker.drain() == 1
    with runtime.deps.session_factory() as session:
        row = session.scalars(select(OutboxRow)).one()
    assert row.channel == "bridge"
    assert row.target == "g-001"
    assert "签到" in row.text
    assert row.status == "queued"
    report = runtime.outbox.drain()
    assert report.sent == 1
    with runtime.deps.session_factory() as session:
        assert session.scalars(select(OutboxRow.status)).one() == "sent"


def test_retried_event_is_acknowledged_without_second_effect(
    client: TestClient, runtime: Runtime, clock: FixedClock
) -> None:
    event = bridge_event("帮助", at=clock.now(), id="bridge-1")

    first = _post(client, clock, event)
    runtime.worker.drain()
    second = _post(client, clock, event)
    runtime.worker.drain()

    assert first.json() == {"ok": True}
    assert second.status_code == 200
    assert second.json() == {"ok": True, "duplicate": True}
    assert _count(runtime.deps.session_factory, InboxRow) == 1
    assert _count(runtime.deps.session_factory, OutboxRow) == 1


def test_member_join_records_history(
    client: TestClient, runtime: Runtime, clock: FixedClock
) -> None:
    event = bridge_event(
        "",
        at=clock.now(),
        type="member_join",
        user="u-inviter",
        members=[{"id": "u-new", "name": "新人"}, {"id": "u-new2", "name": "新人2"}],
    )

    assert _post(client, clock, event).status_code == 200
    runtime.worker.drain()

    with runtime.deps.session_factory() as session:
        kinds = session.scalars(select(MemberEvent.kind)).all()
        joined = session.scalars(
            select(ChatMember.joined_at).where(ChatMember.joined_at.is_not(None))
        ).all()
    assert kinds == ["join", "join"]
    assert len(joined) == 2
    assert _count(runtime.deps.session_factory, OutboxRow) == 0


def test_bad_json_is_400_and_nothing_stored(
    client: TestClient, runtime: Runtime, clock: FixedClock
) -> None:
    response = _post(client, clock, b"{not json")

    assert response.status_code == 400
    assert "JSON" in response.text
    assert _count(runtime.deps.session_factory, InboxRow) == 0


def test_wrong_signature_is_403(client: TestClient, runtime: Runtime, clock: FixedClock) -> None:
    body = json.dumps(bridge_event("帮助", at=clock.now())).encode()
    headers = {
        "X-Qunyun-Timestamp": str(int(clock.now().timestamp())),
        "X-Qunyun-Signature": "0" * 64,
    }

    response = client.post("/callbacks/bridge", content=body, headers=headers)

    assert response.status_code == 403
    assert _count(runtime.deps.session_factory, InboxRow) == 0
