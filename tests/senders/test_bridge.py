"""BridgeSender against a real local server standing in for the bridge's send URL."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace

import httpx
import pytest

from app.clock import FixedClock
from app.senders.base import Delivery, SendError
from app.senders.bridge import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BridgeSender,
    sign_bridge,
)
from tests.fakes import FakeHTTPServer, RecordedRequest, Reply

SECRET = b"bridge-secret"
SEND_PATH = "/bridge/send"


@pytest.fixture
def sender(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client, clock: FixedClock
) -> BridgeSender:
    return BridgeSender(http_client, fake_http_server.url_for(SEND_PATH), SECRET, clock)


MESSAGE = Delivery(
    key="reply:bridge:m-1:0",
    channel="bridge",
    target="g-001",
    text="签到成功，+10 积分",
    mention_ids=("u-001",),
)


def only_request(server: FakeHTTPServer) -> RecordedRequest:
    [request] = server.requests_to(SEND_PATH)
    return request


def test_sign_bridge_known_answer() -> None:
    # Independently checked: printf '1763812800.{"id":"k1"}' | openssl dgst -sha256 -hmac ...
    assert sign_bridge(SECRET, 1763812800, b'{"id":"k1"}') == (
        "286a74fc6a72513e8eb848fd0d5278ea52092a8b8954ebdb7c249df7333b29cd"
    )


def test_posts_a_message_body(sender: BridgeSender, fake_http_server: FakeHTTPServer) -> None:
    sender.send(MESSAGE)

    request = only_request(fake_http_server)
    assert request.method == "POST"
    assert request.json_body == {
        "id": "reply:bridge:m-1:0",
        "chat_id": "g-001",
        "text": "签到成功，+10 积分",
        "mentions": ["u-001"],
    }
    assert request.headers["content-type"].startswith("application/json")
    assert "签到".encode() in request.body  # UTF-8, not \\u escapes


def test_signature_verifies_over_the_raw_body(
    sender: BridgeSender, fake_http_server: FakeHTTPServer, clock: FixedClock
) -> None:
    sender.send(MESSAGE)

    request = only_request(fake_http_server)
    timestamp = request.headers[TIMESTAMP_HEADER.lower()]
    assert timestamp == str(int(clock.now().timestamp()))
    expected = hmac.new(SECRET, timestamp.encode() + b"." + request.body, hashlib.sha256)
    assert hmac.compare_digest(request.headers[SIGNATURE_HEADER.lower()], expected.hexdigest())


def test_timestamp_follows_the_clock(
    sender: BridgeSender, fake_http_server: FakeHTTPServer, clock: FixedClock
) -> None:
    sender.send(MESSAGE)
    clock.advance(seconds=90)
    sender.send(MESSAGE)

    first, second = fake_http_server.requests_to(SEND_PATH)
    assert (
        int(second.headers["x-qunyun-timestamp"]) - int(first.headers["x-qunyun-timestamp"]) == 90
    )


def test_posts_an_action_body(sender: BridgeSender, fake_http_server: FakeHTTPServer) -> None:
    action = replace(
        MESSAGE,
        key="case:17:remove",
        kind="action",
        text="",
        mention_ids=(),
        extras={"action": "remove_member", "user_id": "u-spam", "reason": "广告刷屏"},
    )

    sender.send(action)

    assert only_request(fake_http_server).json_body == {
        "id": "case:17:remove",
        "action": "remove_member",
        "chat_id": "g-001",
        "user_id": "u-spam",
        "reason": "广告刷屏",
    }


def test_an_action_without_user_is_refused_without_a_call(
    sender: BridgeSender, fake_http_server: FakeHTTPServer
) -> None:
    with pytest.raises(SendError) as caught:
        sender.send(replace(MESSAGE, kind="action", extras={"action": "remove_member"}))

    assert caught.value.retryable is False
    assert fake_http_server.requests == []


def test_unknown_kind_is_refused(sender: BridgeSender) -> None:
    with pytest.raises(SendError, match="news") as caught:
        sender.send(replace(MESSAGE, kind="news"))
    assert caught.value.retryable is False


@pytest.mark.parametrize("status", [400, 401, 404, 429, 500, 502, 503])
def test_any_non_2xx_answer_is_retryable(
    sender: BridgeSender, fake_http_server: FakeHTTPServer, status: int
) -> None:
    fake_http_server.queue(SEND_PATH, Reply(status=status, json_body={"ok": False}))

    with pytest.raises(SendError) as caught:
        sender.send(MESSAGE)

    assert caught.value.retryable is True
    assert str(status) in caught.value.reason


def test_retry_after_header_is_passed_on(
    sender: BridgeSender, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(SEND_PATH, Reply(status=429, headers={"Retry-After": "30"}))
    fake_http_server.queue(SEND_PATH, Reply(status=503, headers={"Retry-After": "soon"}))

    with pytest.raises(SendError) as first:
        sender.send(MESSAGE)
    with pytest.raises(SendError) as second:
        sender.send(MESSAGE)

    assert first.value.retry_after == 30.0
    assert second.value.retry_after is None


def test_2xx_answers_succeed(sender: BridgeSender, fake_http_server: FakeHTTPServer) -> None:
    fake_http_server.queue(SEND_PATH, Reply(status=202, body=b""), Reply(status=204, body=b""))

    sender.send(MESSAGE)
    sender.send(MESSAGE)

    assert len(fake_http_server.requests_to(SEND_PATH)) == 2


def test_a_dropped_connection_is_retryable(
    sender: BridgeSender, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(SEND_PATH, Reply(drop=True))

    with pytest.raises(SendError) as caught:
        sender.send(MESSAGE)

    assert caught.value.retryable is True


def test_an_unreachable_bridge_is_retryable(http_client: httpx.Client, clock: FixedClock) -> None:
    with FakeHTTPServer() as server:
        url = server.url_for(SEND_PATH)  # nothing listens here once the block ends
    sender = BridgeSender(http_client, url, SECRET, clock)

    with pytest.raises(SendError, match="unreachable") as caught:
        sender.send(MESSAGE)

    assert caught.value.retryable is True


def test_a_bad_url_is_not_retryable(http_client: httpx.Client, clock: FixedClock) -> None:
    sender = BridgeSender(http_client, "ftp://bridge.example/send", SECRET, clock)

    with pytest.raises(SendError) as caught:
        sender.send(MESSAGE)

    assert caught.value.retryable is False


def test_body_is_compact_json(sender: BridgeSender, fake_http_server: FakeHTTPServer) -> None:
    sender.send(replace(MESSAGE, mention_ids=()))

    body = only_request(fake_http_server).body
    assert body == json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )
    assert json.loads(body)["mentions"] == []


def test_empty_secret_is_rejected(http_client: httpx.Client, clock: FixedClock) -> None:
    with pytest.raises(ValueError, match="secret"):
        BridgeSender(http_client, "http://127.0.0.1:9/send", b"", clock)
