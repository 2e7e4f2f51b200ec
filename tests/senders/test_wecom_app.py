"""WeComAppSender against a real local server standing in for the WeCom API."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from app.clock import FixedClock
from app.senders.base import Delivery, SendError
from app.senders.split import APP_MESSAGE_MAX_BYTES, utf8_len
from app.senders.wecom_api import AccessTokenCache, TokenExpired
from app.senders.wecom_app import WeComAppSender
from tests.fakes import GETTOKEN_PATH, FakeHTTPServer, Reply

SEND_PATH = "/cgi-bin/message/send"
AGENT_ID = 1000002
DELIVERY = Delivery(key="k-1", channel="wecom_app", target="zhangsan", text="您的工单已处理")


@pytest.fixture
def sender(
    fake_http_server: FakeHTTPServer, http_client: httpx.Client, clock: FixedClock
) -> WeComAppSender:
    tokens = AccessTokenCache(http_client, fake_http_server.url, "ww-corp", "app-secret", clock)
    return WeComAppSender(http_client, tokens, AGENT_ID, fake_http_server.url)


def sends(server: FakeHTTPServer) -> list[str]:
    """The access tokens used by each message/send call, in order."""
    return [request.query["access_token"] for request in server.requests_to(SEND_PATH)]


def test_posts_a_text_message(sender: WeComAppSender, fake_http_server: FakeHTTPServer) -> None:
    sender.send(DELIVERY)

    [request] = fake_http_server.requests_to(SEND_PATH)
    assert request.method == "POST"
    assert request.query == {"access_token": "fake-token-1"}
    assert request.json_body == {
        "touser": "zhangsan",
        "msgtype": "text",
        "agentid": AGENT_ID,
        "text": {"content": "您的工单已处理"},
    }


def test_posts_markdown(sender: WeComAppSender, fake_http_server: FakeHTTPServer) -> None:
    sender.send(replace(DELIVERY, kind="markdown", text="**周报** 已生成"))

    [request] = fake_http_server.requests_to(SEND_PATH)
    assert request.json_body["msgtype"] == "markdown"
    assert request.json_body["markdown"] == {"content": "**周报** 已生成"}


def test_two_sends_share_one_token(
    sender: WeComAppSender, fake_http_server: FakeHTTPServer
) -> None:
    sender.send(DELIVERY)
    sender.send(DELIVERY)

    assert len(fake_http_server.requests_to(GETTOKEN_PATH)) == 1
    assert sends(fake_http_server) == ["fake-token-1", "fake-token-1"]


def test_an_expired_token_is_refreshed_once(
    sender: WeComAppSender, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(SEND_PATH, Reply.wecom_error(42001, "access_token expired"))

    sender.send(DELIVERY)

    assert len(fake_http_server.requests_to(GETTOKEN_PATH)) == 2
    assert sends(fake_http_server) == ["fake-token-1", "fake-token-2"]
    sender.send(DELIVERY)  # the fresh token is cached
    assert fake_http_server.tokens_issued == 2


def test_a_second_rejection_is_not_retried_again(
    sender: WeComAppSender, fake_http_server: FakeHTTPServer
) -> None:
    rejected = Reply.wecom_error(40014, "invalid access_token")
    fake_http_server.queue(SEND_PATH, rejected, rejected)

    with pytest.raises(TokenExpired) as caught:
        sender.send(DELIVERY)

    assert caught.value.retryable is True
    assert sends(fake_http_server) == ["fake-token-1", "fake-token-2"]
    assert fake_http_server.tokens_issued == 2


def test_untrusted_ip_is_not_retryable_and_hides_the_token(
    sender: WeComAppSender, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(
        SEND_PATH,
        Reply.wecom_error(60020, "not allow to access from your ip, from ip: 198.51.100.4"),
    )

    with pytest.raises(SendError) as caught:
        sender.send(DELIVERY)

    assert caught.value.retryable is False
    assert "企业可信IP" in caught.value.reason
    assert "fake-token" not in caught.value.reason


def test_frequency_limit_is_retryable_after_a_minute(
    sender: WeComAppSender, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(SEND_PATH, Reply.wecom_error(45009, "api freq out of limit"))

    with pytest.raises(SendError) as caught:
        sender.send(DELIVERY)

    assert (caught.value.retryable, caught.value.retry_after) == (True, 60)


def test_an_invalid_user_is_a_permanent_failure(
    sender: WeComAppSender, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(
        SEND_PATH, Reply(json_body={"errcode": 0, "errmsg": "ok", "invaliduser": "zhangsan"})
    )

    with pytest.raises(SendError, match="invaliduser") as caught:
        sender.send(DELIVERY)

    assert caught.value.retryable is False


def test_other_rejected_users_do_not_matter(
    sender: WeComAppSender, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(
        SEND_PATH, Reply(json_body={"errcode": 0, "errmsg": "ok", "invaliduser": "zhangsan2"})
    )

    sender.send(DELIVERY)


@pytest.mark.parametrize(
    "delivery",
    [
        replace(DELIVERY, kind="news"),
        replace(DELIVERY, target=""),
    ],
    ids=["kind", "target"],
)
def test_unsendable_deliveries_are_refused_without_a_call(
    sender: WeComAppSender, fake_http_server: FakeHTTPServer, delivery: Delivery
) -> None:
    with pytest.raises(SendError) as caught:
        sender.send(delivery)

    assert caught.value.retryable is False
    assert fake_http_server.requests == []


def test_a_token_failure_stops_before_sending(
    sender: WeComAppSender, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(GETTOKEN_PATH, Reply(status=503, body=b"busy"))

    with pytest.raises(SendError) as caught:
        sender.send(DELIVERY)

    assert caught.value.retryable is True
    assert fake_http_server.requests_to(SEND_PATH) == []


def test_over_long_text_is_truncated_on_a_character_boundary(
    sender: WeComAppSender, fake_http_server: FakeHTTPServer
) -> None:
    text = "花" * 683  # 2049 bytes

    sender.send(replace(DELIVERY, text=text))

    [request] = fake_http_server.requests_to(SEND_PATH)
    content = request.json_body["text"]["content"]
    assert content == "花" * 681 + "…"  # 2043 + 3 bytes; one more 花 would make 2049
    assert utf8_len(content) <= APP_MESSAGE_MAX_BYTES
