"""Send a delivery through a WeCom group robot webhook (`/cgi-bin/webhook/send?key=…`).

Runs in the outbox dispatcher, once per claimed `wecom_robot` row; `delivery.extras["robot_key"]`
is the webhook key (the robot's only credential, never logged). Exactly one webhook call per
delivery: texts over the byte limit are refused, not split, because splitting happens when rows
are enqueued (`app.senders.split`) so the dispatcher's 20-per-minute limit counts real messages.
The limit itself is enforced by the dispatcher; here 45009 only becomes `retry_after=60`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx

from app.senders.base import Delivery, SendError
from app.senders.split import ROBOT_MARKDOWN_MAX_BYTES, ROBOT_TEXT_MAX_BYTES, utf8_len
from app.senders.wecom_api import DEFAULT_API_BASE, DEFAULT_TIMEOUT, post_wecom

NEWS_MIN_ARTICLES = 1
NEWS_MAX_ARTICLES = 8
_ARTICLE_FIELDS = ("title", "description", "url", "picurl")
_ARTICLE_REQUIRED = ("title", "url")


class WeComRobotSender:
    """Posts text (with `mentioned_list`), markdown or news to a group robot."""

    def __init__(
        self,
        client: httpx.Client,
        api_base: str = DEFAULT_API_BASE,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._client = client
        self._url = f"{api_base.rstrip('/')}/cgi-bin/webhook/send"
        self._timeout = timeout

    def send(self, delivery: Delivery) -> None:
        """Deliver once or raise SendError."""
        key = delivery.extras.get("robot_key", "")
        if not key:
            raise SendError("wecom_robot delivery has no robot_key", retryable=False)
        payload = robot_payload(delivery)
        post_wecom(self._client, self._url, payload, params={"key": key}, timeout=self._timeout)


def markdown_mentions(mention_ids: Sequence[str]) -> str:
    """The prefix that mentions users in robot markdown, which has no `mentioned_list`."""
    return "".join(f"<@{user_id}>" for user_id in mention_ids) + " " if mention_ids else ""


def max_text_bytes(kind: str, mention_ids: Sequence[str] = ()) -> int:
    """The byte budget for `delivery.text` of one robot message: what `split_text` should get.

    For markdown the rendered mentions count against the 4096 bytes; a text message's
    `mentioned_list` does not count against its 2048.
    """
    if kind == "markdown":
        return ROBOT_MARKDOWN_MAX_BYTES - utf8_len(markdown_mentions(mention_ids))
    return ROBOT_TEXT_MAX_BYTES


def robot_payload(delivery: Delivery) -> dict[str, object]:
    """The webhook JSON for a delivery; SendError(retryable=False) if it cannot be sent as is."""
    match delivery.kind:
        case "text":
            _check_size(delivery.text, ROBOT_TEXT_MAX_BYTES, "text")
            text: dict[str, object] = {"content": delivery.text}
            if delivery.mention_ids:
                text["mentioned_list"] = list(delivery.mention_ids)
            return {"msgtype": "text", "text": text}
        case "markdown":
            content = markdown_mentions(delivery.mention_ids) + delivery.text
            _check_size(content, ROBOT_MARKDOWN_MAX_BYTES, "markdown")
            return {"msgtype": "markdown", "markdown": {"content": content}}
        case "news":
            return {"msgtype": "news", "news": {"articles": _articles(delivery)}}
        case _:
            raise SendError(f"wecom_robot cannot send kind {delivery.kind!r}", retryable=False)


def _check_size(content: str, limit: int, kind: str) -> None:
    size = utf8_len(content)
    if size > limit:
        raise SendError(
            f"wecom_robot {kind} is {size} bytes, over the {limit}-byte limit "
            "(split it when enqueuing)",
            retryable=False,
        )
    if not content.strip():
        raise SendError(f"wecom_robot {kind} is empty", retryable=False)


def _articles(delivery: Delivery) -> list[dict[str, str]]:
    raw = delivery.extras.get("articles", "")
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise SendError(
            "wecom_robot news: extras['articles'] is not JSON", retryable=False
        ) from None
    if not isinstance(parsed, list) or not (NEWS_MIN_ARTICLES <= len(parsed) <= NEWS_MAX_ARTICLES):
        raise SendError(
            f"wecom_robot news needs a list of {NEWS_MIN_ARTICLES}–{NEWS_MAX_ARTICLES} articles",
            retryable=False,
        )
    return [_article(item, index) for index, item in enumerate(parsed)]


def _article(item: object, index: int) -> dict[str, str]:
    if not isinstance(item, dict):
        raise SendError(f"wecom_robot news article {index} is not an object", retryable=False)
    article = {name: item[name] for name in _ARTICLE_FIELDS if isinstance(item.get(name), str)}
    missing = [name for name in _ARTICLE_REQUIRED if not article.get(name)]
    if missing:
        raise SendError(
            f"wecom_robot news article {index} lacks {', '.join(missing)}", retryable=False
        )
    return article
