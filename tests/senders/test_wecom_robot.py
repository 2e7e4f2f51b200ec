"""WeComRobotSender against a real local server standing in for the group-robot webhook."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest

from app.senders.base import Delivery, SendError
from app.senders.split import ROBOT_MARKDOWN_MAX_BYTES, ROBOT_TEXT_MAX_BYTES, split_text
from app.senders.wecom_robot import WeComRobotSender, max_text_bytes
from tests.fakes import FakeHTTPServer, RecordedRequest, Reply

WEBHOOK = "/cgi-bin/webhook/send"
KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
TEXT = Delivery(
    key="post:7:g-1",
    channel="wecom_robot",
    target="ops-robot",
    text="今晚 8 点限时秒杀，回复「抢3」参与",
    mention_ids=("zhangsan", "@all"),
    extras={"robot_key": KEY},
)
ARTICLES = [
    {
        "title": "十一月活动",
        "description": "签到翻倍",
        "url": "https://example.com/a",
        "x": "drop",
    },
    {"title": "新品", "url": "https://example.com/b", "picurl": "https://example.com/b.png"},
]


@pytest.fixture
def sender(fake_http_server: FakeHTTPServer, http_client: httpx.Client) -> WeComRobotSender:
    return WeComRobotSender(http_client, fake_http_server.url)


def only_call(server: FakeHTTPServer) -> RecordedRequest:
    [request] = server.requests_to(WEBHOOK)
    return request


def test_posts_text_with_mentions(
    sender: WeComRobotSender, fake_http_server: FakeHTTPServer
) -> None:
    sender.send(TEXT)

    request = only_call(fake_http_server)
    assert request.method == "POST"
    assert request.query == {"key": KEY}
    assert request.json_body == {
        "msgtype": "text",
        "text": {"content": TEXT.text, "mentioned_list": ["zhangsan", "@all"]},
    }


def test_text_without_mentions_has_no_mentioned_list(
    sender: WeComRobotSender, fake_http_server: FakeHTTPServer
) -> None:
    sender.send(replace(TEXT, mention_ids=()))

    assert only_call(fake_http_server).json_body == {
        "msgtype": "text",
        "text": {"content": TEXT.text},
    }


def test_posts_markdown_with_inline_mentions(
    sender: WeComRobotSender, fake_http_server: FakeHTTPServer
) -> None:
    sender.send(replace(TEXT, kind="markdown", text="**秒杀** 开始", mention_ids=("lisi",)))

    assert only_call(fake_http_server).json_body == {
        "msgtype": "markdown",
        "markdown": {"content": "<@lisi> **秒杀** 开始"},
    }


def test_posts_news_articles(sender: WeComRobotSender, fake_http_server: FakeHTTPServer) -> None:
    sender.send(
        replace(
            TEXT, kind="news", text="", extras={"robot_key": KEY, "articles": json.dumps(ARTICLES)}
        )
    )

    assert only_call(fake_http_server).json_body == {
        "msgtype": "news",
        "news": {
            "articles": [
                {"title": "十一月活动", "description": "签到翻倍", "url": "https://example.com/a"},
                ARTICLES[1],
            ]
        },
    }


@pytest.mark.parametrize(
    "articles",
    [
        "not json",
        json.dumps({"title": "t", "url": "u"}),
        json.dumps([]),
        json.dumps([{"title": "t", "url": "https://example.com"}] * 9),
        json.dumps(["a string"]),
        json.dumps([{"title": "no url"}]),
    ],
    ids=["json", "object", "empty", "nine", "item", "url"],
)
def test_bad_news_is_refused_without_a_call(
    sender: WeComRobotSender, fake_http_server: FakeHTTPServer, articles: str
) -> None:
    with pytest.raises(SendError) as caught:
        sender.send(replace(TEXT, kind="news", extras={"robot_key": KEY, "articles": articles}))

    assert caught.value.retryable is False
    assert fake_http_server.requests == []


def test_text_at_the_byte_limit_is_sent(
    sender: WeComRobotSender, fake_http_server: FakeHTTPServer
) -> None:
    text = "花" * 682 + "ab"  # 2046 + 2 = 2048 bytes

    sender.send(replace(TEXT, text=text))

    assert only_call(fake_http_server).json_body["text"]["content"] == text


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("text", "花" * 682 + "abc"),  # 2049 bytes
        ("markdown", "花" * 1365 + "a" * 2),  # 4095 + 2 = 4097 bytes
        ("markdown", "花" * 1365),  # 4095 bytes, but "<@lisi> " pushes it over
    ],
)
def test_over_the_limit_is_refused_without_a_call(
    sender: WeComRobotSender, fake_http_server: FakeHTTPServer, kind: str, text: str
) -> None:
    delivery = replace(TEXT, kind=kind, text=text, mention_ids=("lisi",))

    with pytest.raises(SendError, match="split it when enqueuing") as caught:
        sender.send(delivery)

    assert caught.value.retryable is False
    assert fake_http_server.requests == []


def test_chunks_from_split_text_are_each_one_call(
    sender: WeComRobotSender, fake_http_server: FakeHTTPServer
) -> None:
    long_text = "今天的签到排行榜：\n" + "\n".join(
        f"第{i}名 会员{i} 积分{i * 10}" for i in range(300)
    )
    chunks = split_text(long_text, ROBOT_TEXT_MAX_BYTES)

    for index, chunk in enumerate(chunks):
        sender.send(replace(TEXT, key=f"post:7:p{index}", text=chunk, mention_ids=()))

    contents = [r.json_body["text"]["content"] for r in fake_http_server.requests_to(WEBHOOK)]
    assert len(contents) == len(chunks) > 1
    assert "".join(contents) == long_text


def test_markdown_limit_is_4096_bytes(
    sender: WeComRobotSender, fake_http_server: FakeHTTPServer
) -> None:
    text = "a" * ROBOT_MARKDOWN_MAX_BYTES

    sender.send(replace(TEXT, kind="markdown", text=text, mention_ids=()))

    assert only_call(fake_http_server).json_body["markdown"]["content"] == text


def test_frequency_limit_is_retryable_after_a_minute(
    sender: WeComRobotSender, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(WEBHOOK, Reply.wecom_error(45009, "api freq out of limit"))

    with pytest.raises(SendError) as caught:
        sender.send(TEXT)

    assert (caught.value.retryable, caught.value.retry_after) == (True, 60)
    assert len(fake_http_server.requests_to(WEBHOOK)) == 1  # no retry inside the sender


def test_a_removed_robot_is_permanent_and_the_key_stays_secret(
    sender: WeComRobotSender, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(
        WEBHOOK, Reply.wecom_error(93000, f"invalid webhook url, key={KEY}, hint: [1]")
    )

    with pytest.raises(SendError) as caught:
        sender.send(TEXT)

    assert caught.value.retryable is False
    assert KEY not in caught.value.reason
    assert "93000" in caught.value.reason


@pytest.mark.parametrize(
    "delivery",
    [
        replace(TEXT, extras={}),
        replace(TEXT, kind="image"),
        replace(TEXT, text="  \n"),
    ],
    ids=["no-key", "kind", "blank"],
)
def test_unsendable_deliveries_are_refused_without_a_call(
    sender: WeComRobotSender, fake_http_server: FakeHTTPServer, delivery: Delivery
) -> None:
    with pytest.raises(SendError) as caught:
        sender.send(delivery)

    assert caught.value.retryable is False
    assert fake_http_server.requests == []


def test_network_errors_are_retryable(
    sender: WeComRobotSender, fake_http_server: FakeHTTPServer
) -> None:
    fake_http_server.queue(WEBHOOK, Reply(drop=True))

    with pytest.raises(SendError) as caught:
        sender.send(TEXT)

    assert caught.value.retryable is True
    assert KEY not in caught.value.reason


def test_markdown_budget_leaves_room_for_mentions(
    sender: WeComRobotSender, fake_http_server: FakeHTTPServer
) -> None:
    mentions = ("lisi", "wangwu")
    budget = max_text_bytes("markdown", mentions)
    long_markdown = "**排行榜**\n" + "\n".join(f"- 会员{i}：{i * 7} 分" for i in range(400))

    for chunk in split_text(long_markdown, budget):
        sender.send(replace(TEXT, kind="markdown", text=chunk, mention_ids=mentions))

    contents = [r.json_body["markdown"]["content"] for r in fake_http_server.requests_to(WEBHOOK)]
    assert len(contents) > 1
    assert all(c.startswith("<@lisi><@wangwu> ") for c in contents)
    assert max(len(c.encode()) for c in contents) <= ROBOT_MARKDOWN_MAX_BYTES
    assert budget == ROBOT_MARKDOWN_MAX_BYTES - len("<@lisi><@wangwu> ")
    assert max_text_bytes("text", mentions) == ROBOT_TEXT_MAX_BYTES
    assert max_text_bytes("markdown") == ROBOT_MARKDOWN_MAX_BYTES
