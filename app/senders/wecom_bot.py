"""Answer a WeCom AI-bot (智能机器人) message through its `response_url`.

Runs in the outbox dispatcher, once per claimed `wecom_bot` row. `delivery.extras["response_url"]`
comes from the inbound callback; WeCom accepts one call to it within an hour, so a long answer is
truncated (on a UTF-8 boundary) rather than split into several calls. One POST per delivery;
changes nothing else. In a group the reply quotes the triggering message, so no mentions are sent.
"""

from __future__ import annotations

import httpx

from app.senders.base import Delivery, SendError
from app.senders.split import BOT_MARKDOWN_MAX_BYTES, truncate_utf8
from app.senders.wecom_api import DEFAULT_TIMEOUT, post_wecom

NO_RESPONSE_URL = "no response_url: the AI bot can only answer within an hour of the message"


class WeComBotSender:
    """Posts the delivery text as markdown to the message's one-time `response_url`."""

    def __init__(self, client: httpx.Client, *, timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> None:
        self._client = client
        self._timeout = timeout

    def send(self, delivery: Delivery) -> None:
        """Deliver once or raise SendError."""
        url = delivery.extras.get("response_url", "")
        if not url:
            raise SendError(NO_RESPONSE_URL, retryable=False)
        if delivery.kind not in ("text", "markdown"):
            raise SendError(f"wecom_bot cannot send kind {delivery.kind!r}", retryable=False)
        content = truncate_utf8(delivery.text, BOT_MARKDOWN_MAX_BYTES)
        payload = {"msgtype": "markdown", "markdown": {"content": content}}
        post_wecom(self._client, url, payload, timeout=self._timeout)
