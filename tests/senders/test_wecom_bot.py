"""WeComBotSender against a real local server standing in for an AI-bot response_url."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from app.senders.base import Delivery, SendError
from app.senders.split import BOT_MARKDOWN_MAX_BYTES, utf8_len
from app.senders.wecom_bot import NO_RESPONSE_URL, WeComBotSender
from tests.fakes import FakeHTTPServer, RecordedRequest, Reply

RESPONSE_PATH = "/cgi-bin/aibot/response"


@pytest.fixture
def sender(http_client: httpx.Client) -> WeComBotSender:
    return WeComBotSender(http_client)


@pytest.fixture
def delivery(fake_http_server: FakeHTTPServer) -> Delivery:
    url = fake_http_server.url_for(f"{RESPONSE_PATH}?response_code=rc-secret-1")
    return Delivery(
        key="reply:wecom_bot:msg-1:0",
        channel="wecom_bot",
        target="wrkSFfCgAAxxx",
        text="**营业时间**：每天 9:00–21:00",
        extras={"response_url": url},
    )


def only_call(server: FakeHTTPServer) -> RecordedRequest:
    [request] = server.requests_to(RESPONSE_PATH)
    return request


def test_posts_markdown_to_the_response_url(
    sender: WeComBotSender, delivery: Delivery, fake_http_server: FakeHTTPServer
) -> None:
    sender.send(delivery)

    request = only_call(fake_http_server)
    assert request.method == "POST"
    assert request.query == {"response_code": "rc-secret-1"}
    assert request.json_body == {
        "msgtype": "markdown",
        "markdown": {"content": "**营业时间**：每天 9:00–21:00"},
    }


def test_a_long_answer_is_truncated_on_a_character_boundary(
    sender: WeComBotSender, delivery: Delivery, fake_http_server: FakeHTTPServer
) -> None:
    text = "花" * 7000  # 21000 bytes

    sender.send(replace(delivery, text=text))

    content = only_call(fake_http_server).json_body["markdown"]["content"]
    assert utf8_len(content) <= BOT_MARKDOWN_MAX_BYTES
    assert content.endswith("…")
    assert text.startswith(content[:-1])
    assert utf8_len(content) > BOT_MARKDOWN_MAX_BYTES - 6


def test_missing_response_url_is_permanent(sender: WeComBotSender, delivery: Delivery) -> None:
    with pytest.raises(SendError) as caught:
        sender.send(replace(delivery, extras={"response_url": ""}))

    assert caught.value.retryable is False
    assert caught.value.reason == NO_RESPONSE_URL
    assert "within an hour" in caught.value.reason


def test_wecom_errors_are_mapped_and_the_code_stays_secret(
    sender: WeComBotSender, delivery: Delivery, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(
        RESPONSE_PATH, Reply.wecom_error(40058, "response_code=rc-secret-1 already used")
    )

    with pytest.raises(SendError) as caught:
        sender.send(delivery)

    assert caught.value.retryable is False
    assert "rc-secret-1" not in caught.value.reason


def test_busy_is_retryable(
    sender: WeComBotSender, delivery: Delivery, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(RESPONSE_PATH, Reply.wecom_error(-1, "system busy"))

    with pytest.raises(SendError) as caught:
        sender.send(delivery)

    assert caught.value.retryable is True


def test_unsupported_kind_is_refused_without_a_call(
    sender: WeComBotSender, delivery: Delivery, fake_http_server: FakeHTTPServer
) -> None:
    with pytest.raises(SendError) as caught:
        sender.send(replace(delivery, kind="news"))

    assert caught.value.retryable is False
    assert fake_http_server.requests == []
