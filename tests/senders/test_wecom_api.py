"""Access-token cache and WeCom error mapping, against a real local server posing as WeCom."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import pytest

from app.clock import FixedClock
from app.senders.base import SendError
from app.senders.wecom_api import (
    AccessTokenCache,
    TokenExpired,
    check_wecom_response,
    post_wecom,
    redact,
)
from tests.fakes import GETTOKEN_PATH, FakeHTTPServer, Reply

CORP_ID = "ww-corp"
SECRET = "app-secret-value"
PROBE = "/cgi-bin/probe"


@pytest.fixture
def tokens(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client, clock: FixedClock
) -> AccessTokenCache:
    return AccessTokenCache(http_client, fake_http_server.url, CORP_ID, SECRET, clock)


def probe(server: FakeHTTPServer, client: httpx.Client, reply: Reply) -> dict[str, object]:
    """Have the fake answer `reply` and run the real response through check_wecom_response."""
    server.queue(PROBE, reply)
    return check_wecom_response(client.post(server.url_for(PROBE), json={}))


# -- access tokens


def test_gettoken_is_called_with_corp_id_and_secret(
    tokens: AccessTokenCache, fake_http_server: FakeHTTPServer
) -> None:
    assert tokens.get() == "fake-token-1"

    [request] = fake_http_server.requests_to(GETTOKEN_PATH)
    assert request.method == "GET"
    assert request.query == {"corpid": CORP_ID, "corpsecret": SECRET}


def test_token_is_cached(tokens: AccessTokenCache, fake_http_server: FakeHTTPServer) -> None:
    assert tokens.get() == tokens.get() == "fake-token-1"
    assert fake_http_server.tokens_issued == 1


def test_token_is_refreshed_shortly_before_it_expires(
    tokens: AccessTokenCache, fake_http_server: FakeHTTPServer, clock: FixedClock
) -> None:
    tokens.get()
    clock.advance(seconds=7200 - 301)
    assert tokens.get() == "fake-token-1"

    clock.advance(seconds=2)  # inside the five-minute margin
    assert tokens.get() == "fake-token-2"
    assert fake_http_server.tokens_issued == 2


def test_short_lived_tokens_are_kept_for_half_their_life(
    tokens: AccessTokenCache, fake_http_server: FakeHTTPServer, clock: FixedClock
) -> None:
    fake_http_server.token_expires_in = 120  # shorter than the margin

    tokens.get()
    clock.advance(seconds=59)
    assert tokens.get() == "fake-token-1"
    clock.advance(seconds=1)
    assert tokens.get() == "fake-token-2"


def test_invalidate_forces_a_new_token(
    tokens: AccessTokenCache, fake_http_server: FakeHTTPServer
) -> None:
    tokens.get()
    tokens.invalidate()

    assert tokens.get() == "fake-token-2"


def test_invalidating_a_stale_token_keeps_the_fresh_one(
    tokens: AccessTokenCache, fake_http_server: FakeHTTPServer
) -> None:
    stale = tokens.get()
    tokens.invalidate(stale)
    fresh = tokens.get()

    tokens.invalidate(stale)  # a second caller that also saw the stale token

    assert tokens.get() == fresh == "fake-token-2"
    assert fake_http_server.tokens_issued == 2


def test_concurrent_callers_share_one_gettoken(
    tokens: AccessTokenCache, fake_http_server: FakeHTTPServer
) -> None:
    start = threading.Barrier(8)
    results: list[str] = []

    def worker() -> None:
        start.wait()
        results.append(tokens.get())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == ["fake-token-1"] * 8
    assert fake_http_server.tokens_issued == 1


def test_a_wrong_secret_is_not_retryable_and_not_leaked(
    tokens: AccessTokenCache, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(
        GETTOKEN_PATH,
        Reply.wecom_error(40001, f"invalid credential, corpsecret={SECRET}, hint: [x]"),
    )

    with pytest.raises(SendError) as caught:
        tokens.get()

    assert not isinstance(caught.value, TokenExpired)
    assert caught.value.retryable is False
    assert "WECOM_APP_SECRET" in caught.value.reason
    assert SECRET not in caught.value.reason
    assert SECRET not in repr(tokens)


def test_gettoken_failures_keep_their_retry_hints(
    tokens: AccessTokenCache, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(GETTOKEN_PATH, Reply.wecom_error(-1, "system busy"))
    fake_http_server.queue(GETTOKEN_PATH, Reply.wecom_error(45009, "api freq out of limit"))

    with pytest.raises(SendError) as busy:
        tokens.get()
    with pytest.raises(SendError) as limited:
        tokens.get()

    assert busy.value.retryable is True
    assert limited.value.retry_after == 60
    assert tokens.get() == "fake-token-1"


def test_gettoken_without_a_token_is_an_error(
    tokens: AccessTokenCache, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(GETTOKEN_PATH, Reply(json_body={"errcode": 0, "errmsg": "ok"}))

    with pytest.raises(SendError, match="access_token"):
        tokens.get()


# -- error mapping


def test_errcode_zero_returns_the_body(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client
) -> None:
    body = {"errcode": 0, "errmsg": "ok", "invaliduser": ""}

    assert probe(fake_http_server, http_client, Reply(json_body=body)) == body


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_token_errcodes_raise_token_expired(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client, errcode: int
) -> None:
    with pytest.raises(TokenExpired) as caught:
        probe(fake_http_server, http_client, Reply.wecom_error(errcode, "access_token expired"))

    assert caught.value.retryable is True
    assert str(errcode) in caught.value.reason


def test_frequency_limit_asks_for_a_minute(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client
) -> None:
    with pytest.raises(SendError) as caught:
        probe(fake_http_server, http_client, Reply.wecom_error(45009, "api freq out of limit"))

    assert caught.value.retryable is True
    assert caught.value.retry_after == 60


def test_untrusted_ip_tells_the_operator_what_to_do(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client
) -> None:
    errmsg = "not allow to access from your ip, hint: [1763], from ip: 203.0.113.7"

    with pytest.raises(SendError) as caught:
        probe(fake_http_server, http_client, Reply.wecom_error(60020, errmsg))

    assert caught.value.retryable is False
    assert "企业可信IP" in caught.value.reason
    assert "203.0.113.7" in caught.value.reason


@pytest.mark.parametrize(("errcode", "retryable"), [(-1, True), (45033, True), (93000, False)])
def test_other_errcodes(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client, errcode: int, retryable: bool
) -> None:
    with pytest.raises(SendError) as caught:
        probe(fake_http_server, http_client, Reply.wecom_error(errcode, "x"))

    assert type(caught.value) is SendError
    assert caught.value.retryable is retryable
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    "reply",
    [
        Reply(status=502, body=b"<html>Bad Gateway</html>"),
        Reply(body=b"not json"),
        Reply(json_body=["a", "list"]),
        Reply(json_body={"errcode": "0x1", "errmsg": "?"}),
    ],
)
def test_malformed_answers_are_retryable(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client, reply: Reply
) -> None:
    with pytest.raises(SendError) as caught:
        probe(fake_http_server, http_client, reply)

    assert caught.value.retryable is True


def test_credentials_in_errmsg_are_masked(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client
) -> None:
    errmsg = "invalid url https://qyapi/cgi-bin/webhook/send?key=robot-key-1&access_token=tok-9"

    with pytest.raises(SendError) as caught:
        probe(fake_http_server, http_client, Reply.wecom_error(93000, errmsg))

    assert "robot-key-1" not in caught.value.reason
    assert "tok-9" not in caught.value.reason
    assert "key=***" in caught.value.reason


def test_redact_masks_known_secret_values() -> None:
    assert redact("corpsecret=abc&x=1 and abc", "abc") == "corpsecret=***&x=1 and ***"


def test_post_wecom_maps_network_errors(http_client: httpx.Client) -> None:
    with FakeHTTPServer() as server:
        url = server.url_for("/cgi-bin/message/send")

    with pytest.raises(SendError) as caught:
        post_wecom(http_client, url, {}, params={"access_token": "tok-secret"})

    assert caught.value.retryable is True
    assert "tok-secret" not in caught.value.reason
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True


def test_cache_respects_an_explicit_margin(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client, clock: FixedClock
) -> None:
    tokens = AccessTokenCache(
        http_client, fake_http_server.url, CORP_ID, SECRET, clock, margin=timedelta(0)
    )
    tokens.get()
    clock.advance(seconds=7199)

    assert tokens.get() == "fake-token-1"
