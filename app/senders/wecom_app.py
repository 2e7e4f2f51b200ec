"""Send a delivery as a WeCom self-built app message (`/cgi-bin/message/send`) to one user.

Runs in the outbox dispatcher, once per claimed `wecom_app` row; `delivery.target` is the WeCom
userid. One `message/send` call per delivery; when WeCom rejects the access token (expired or
revoked) the token is refreshed and the call repeated exactly once. Changes nothing but the
token cache. Texts over WeCom's 2048-byte limit are truncated (split them when enqueuing with
`split_text(text, APP_MESSAGE_MAX_BYTES)` to avoid that).
"""

from __future__ import annotations

import httpx

from app.senders.base import Delivery, SendError
from app.senders.split import APP_MESSAGE_MAX_BYTES, truncate_utf8
from app.senders.wecom_api import (
    DEFAULT_API_BASE,
    DEFAULT_TIMEOUT,
    AccessTokenCache,
    TokenExpired,
    post_wecom,
)

_UNDELIVERED_FIELDS = ("invaliduser", "unlicenseduser")


class WeComAppSender:
    """Posts text or markdown to a staff member through the app (`agent_id`)."""

    def __init__(
        self,
        client: httpx.Client,
        tokens: AccessTokenCache,
        agent_id: int,
        api_base: str = DEFAULT_API_BASE,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._agent_id = agent_id
        self._url = f"{api_base.rstrip('/')}/cgi-bin/message/send"
        self._timeout = timeout

    def send(self, delivery: Delivery) -> None:
        """Deliver once or raise SendError; refreshes a rejected token once."""
        payload = self._payload(delivery)
        token = self._tokens.get()
        try:
            answer = self._post(token, payload)
        except TokenExpired:
            self._tokens.invalidate(token)
            answer = self._post(self._tokens.get(), payload)  # a second rejection propagates
        self._check_delivered(answer, delivery.target)

    def _payload(self, delivery: Delivery) -> dict[str, object]:
        if delivery.kind not in ("text", "markdown"):
            raise SendError(f"wecom_app cannot send kind {delivery.kind!r}", retryable=False)
        if not delivery.target:
            raise SendError("wecom_app delivery has no target userid", retryable=False)
        # WeCom cuts longer content itself; cutting here keeps characters whole and marks the cut.
        content = truncate_utf8(delivery.text, APP_MESSAGE_MAX_BYTES)
        return {
            "touser": delivery.target,
            "msgtype": delivery.kind,
            "agentid": self._agent_id,
            delivery.kind: {"content": content},
        }

    def _post(self, token: str, payload: dict[str, object]) -> dict[str, object]:
        return post_wecom(
            self._client,
            self._url,
            payload,
            params={"access_token": token},
            timeout=self._timeout,
        )

    @staticmethod
    def _check_delivered(answer: dict[str, object], target: str) -> None:
        """errcode 0 can still mean "not delivered": WeCom lists rejected users separately."""
        for field in _UNDELIVERED_FIELDS:
            rejected = answer.get(field)
            if isinstance(rejected, str) and target in rejected.split("|"):
                raise SendError(
                    f"WeCom did not deliver to {target!r}: listed in {field}", retryable=False
                )
