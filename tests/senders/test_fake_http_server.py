"""The fake HTTP server other tests rely on: scripting, defaults, recording, built-in gettoken."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from app.clock import FixedClock
from tests.fakes import GETTOKEN_PATH, FakeHTTPServer, Reply

NOW = datetime(2025, 11, 22, 12, 0, tzinfo=UTC)


def test_answers_ok_by_default_and_records_the_request(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client
) -> None:
    response = http_client.post(
        fake_http_server.url_for("/any/path"),
        params={"a": "1", "b": "二"},
        json={"text": "你好"},
        headers={"X-Custom": "v"},
    )

    assert response.status_code == 200
    assert response.json() == {"errcode": 0, "errmsg": "ok"}
    [request] = fake_http_server.requests
    assert request.method == "POST"
    assert request.path == "/any/path"
    assert request.query == {"a": "1", "b": "二"}
    assert request.headers["x-custom"] == "v"
    assert request.json_body == {"text": "你好"}


def test_queued_replies_come_in_order_then_the_default(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client
) -> None:
    fake_http_server.queue("/p", Reply(status=503), Reply.wecom_error(45009, "busy"))
    fake_http_server.set_default("/p", Reply(json_body={"ok": True}))
    url = fake_http_server.url_for("/p")

    answers = [http_client.post(url, json={}) for _ in range(3)]

    assert [a.status_code for a in answers] == [503, 200, 200]
    assert answers[1].json() == {"errcode": 45009, "errmsg": "busy"}
    assert answers[2].json() == {"ok": True}
    assert http_client.get(fake_http_server.url_for("/other")).json()["errcode"] == 0


def test_raw_body_and_headers(fake_http_server: FakeHTTPServer, http_client: httpx.Client) -> None:
    fake_http_server.queue(
        "/raw", Reply(status=502, body=b"<html>bad gateway</html>", headers={"Retry-After": "7"})
    )

    response = http_client.get(fake_http_server.url_for("/raw"))

    assert response.status_code == 502
    assert response.content == b"<html>bad gateway</html>"
    assert response.headers["Retry-After"] == "7"


def test_dropped_connection_is_a_network_error(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client
) -> None:
    fake_http_server.queue("/drop", Reply(drop=True))

    with pytest.raises(httpx.RemoteProtocolError):
        http_client.post(fake_http_server.url_for("/drop"), json={"x": 1})

    assert len(fake_http_server.requests_to("/drop")) == 1
    assert http_client.post(fake_http_server.url_for("/drop"), json={}).status_code == 200


def test_gettoken_hands_out_a_new_token_each_call(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client
) -> None:
    url = fake_http_server.url_for(GETTOKEN_PATH)

    first = http_client.get(url, params={"corpid": "c", "corpsecret": "s"}).json()
    second = http_client.get(url).json()

    assert first == {
        "errcode": 0,
        "errmsg": "ok",
        "access_token": "fake-token-1",
        "expires_in": 7200,
    }
    assert second["access_token"] == "fake-token-2"
    assert fake_http_server.tokens_issued == 2


def test_gettoken_can_be_scripted(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client
) -> None:
    fake_http_server.queue(GETTOKEN_PATH, Reply.wecom_error(40013, "invalid corpid"))

    answer = http_client.get(fake_http_server.url_for(GETTOKEN_PATH)).json()

    assert answer["errcode"] == 40013
    assert fake_http_server.tokens_issued == 0


def test_arrival_times_come_from_the_injected_clock(http_client: httpx.Client) -> None:
    clock = FixedClock(NOW)
    with FakeHTTPServer(clock) as server:
        http_client.get(server.url_for("/a"))
        clock.advance(seconds=30)
        http_client.get(server.url_for("/b"))

        assert [r.received_at for r in server.requests] == [
            NOW,
            NOW.replace(second=30),
        ]


def test_stopped_server_refuses_connections(http_client: httpx.Client) -> None:
    with FakeHTTPServer() as server:
        url = server.url_for("/x")

    with pytest.raises(httpx.ConnectError):
        http_client.get(url)


def test_stopping_cuts_open_keep_alive_connections(http_client: httpx.Client) -> None:
    with FakeHTTPServer() as server:
        url = server.url_for("/x")
        assert http_client.get(url).status_code == 200  # leaves a pooled connection open

    with pytest.raises(httpx.TransportError):
        http_client.get(url)
