"""Every malformed bridge request is a 4xx with a reason, and nothing is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.clock import FixedClock
from app.db.models import InboxRow
from app.runtime import Runtime
from tests.conftest import BRIDGE_SECRET
from tests.factories import bridge_event, signed


def _stored(runtime: Runtime) -> int:
    with runtime.deps.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(InboxRow)) or 0)


def _send(client: TestClient, body: bytes, ts: int) -> Any:
    body, headers = signed(body, BRIDGE_SECRET, timestamp=ts)
    return client.post("/callbacks/bridge", content=body, headers=headers)


def _event_bytes(clock: FixedClock, **changes: Any) -> bytes:
    event = bridge_event("你好", at=clock.now())
    for key, value in changes.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return json.dumps(event, ensure_ascii=False).encode()


@pytest.mark.parametrize(
    ("changes", "status", "reason"),
    [
        ({"id": None}, 400, "id"),
        ({"id": ""}, 400, "id"),
        ({"type": "sticker"}, 400, "type"),
        ({"sender": None}, 400, "sender"),
        ({"sender": {"id": "u-1", "role": "god"}}, 400, "sender.role"),
        ({"sent_at": "yesterday"}, 400, "sent_at"),
        ({"sent_at": 12}, 400, "sent_at"),
        ({"text": 42}, 400, "text"),
        ({"text": "a\x00b"}, 400, "NUL"),
        ({"mentions": "u-1"}, 400, "mentions"),
        ({"type": "member_join", "members": []}, 400, "members"),
    ],
)
def test_invalid_fields(
    client: TestClient,
    runtime: Runtime,
    clock: FixedClock,
    changes: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    response = _send(client, _event_bytes(clock, **changes), int(clock.now().timestamp()))

    assert response.status_code == status
    assert reason in response.text
    assert _stored(runtime) == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "JSON"),
        (b"[1, 2]", "object"),
        ('{"id": "x"}'.encode("utf-16"), "UTF-8"),
        (b"<xml><a>1</a></xml>", "JSON"),
    ],
)
def test_unparseable_bodies(
    client: TestClient, runtime: Runtime, clock: FixedClock, body: bytes, reason: str
) -> None:
    response = _send(client, body, int(clock.now().timestamp()))

    assert response.status_code == 400
    assert reason in response.text
    assert _stored(runtime) == 0


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86400])
def test_stale_and_future_timestamps(
    client: TestClient, runtime: Runtime, clock: FixedClock, offset: int
) -> None:
    response = _send(client, _event_bytes(clock), int(clock.now().timestamp()) + offset)

    assert response.status_code == 403
    assert "window" in response.text
    assert _stored(runtime) == 0


def test_timestamp_at_the_edge_of_the_window_is_accepted(
    client: TestClient, runtime: Runtime, clock: FixedClock
) -> None:
    response = _send(client, _event_bytes(clock), int(clock.now().timestamp()) - 300)

    assert response.status_code == 200
    assert _stored(runtime) == 1


def test_body_signed_then_tampered(
    client: TestClient, runtime: Runtime, clock: FixedClock
) -> None:
    body, headers = signed(
        _event_bytes(clock), BRIDGE_SECRET, timestamp=int(clock.now().timestamp())
    )

    response = client.post(
        "/callbacks/bridge", content=body.replace(b"\xe4\xbd\xa0", b"X"), headers=headers
    )

    assert response.status_code == 403
    assert _stored(runtime) == 0


@pytest.mark.parametrize("header", ["X-Qunyun-Timestamp", "X-Qunyun-Signature"])
def test_missing_headers(
    client: TestClient, runtime: Runtime, clock: FixedClock, header: str
) -> None:
    body, headers = signed(
        _event_bytes(clock), BRIDGE_SECRET, timestamp=int(clock.now().timestamp())
    )
    del headers[header]

    response = client.post("/callbacks/bridge", content=body, headers=headers)

    assert response.status_code == 403
    assert _stored(runtime) == 0


def test_non_numeric_timestamp(client: TestClient, runtime: Runtime, clock: FixedClock) -> None:
    body, headers = signed(
        _event_bytes(clock), BRIDGE_SECRET, timestamp=int(clock.now().timestamp())
    )
    headers["X-Qunyun-Timestamp"] = "1e9"

    assert client.post("/callbacks/bridge", content=body, headers=headers).status_code == 400
    assert _stored(runtime) == 0


def test_ten_megabyte_body_is_refused_before_parsing(
    client: TestClient, runtime: Runtime, clock: FixedClock
) -> None:
    body = b"{" + b" " * (10 * 1024 * 1024) + b"}"

    response = _send(client, body, int(clock.now().timestamp()))

    assert response.status_code == 413
    assert _stored(runtime) == 0


def test_one_to_one_message_without_chat_is_accepted(
    client: TestClient, runtime: Runtime, clock: FixedClock
) -> None:
    response = _send(client, _event_bytes(clock, chat=None), int(clock.now().timestamp()))

    assert response.status_code == 200
    runtime.worker.drain()
    assert _stored(runtime) == 1
