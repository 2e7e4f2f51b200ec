"""Send a delivery to the bridge: one signed JSON POST to `BRIDGE_SEND_URL`.

Runs in the outbox dispatcher, once per claimed `bridge` row. Messages become
`{"id", "chat_id", "text", "mentions"}`, actions (kind "action", e.g. remove_member) become
`{"id", "action", "chat_id", "user_id", "reason"}`; `id` is the delivery's idempotency key so the
bridge can drop a retried request. Both directions sign the same way (SPEC.md, bridge protocol):
`X-Qunyun-Signature = hex HMAC-SHA256(BRIDGE_SECRET, b"<timestamp>." + raw body)`. Any non-2xx
answer is a retryable failure; the dispatcher dead-letters after its attempt limit.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx

from app.clock import Clock
from app.senders.base import Delivery, SendError

TIMESTAMP_HEADER = "X-Qunyun-Timestamp"
SIGNATURE_HEADER = "X-Qunyun-Signature"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_MESSAGE_KINDS = ("text", "markdown")  # the bridge protocol has no formatting; markdown goes as is
_BODY_EXCERPT = 200


def sign_bridge(secret: bytes, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 over `b"<timestamp>." + body`, the bridge signature in both directions."""
    return hmac.new(secret, f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()


def bridge_body(delivery: Delivery) -> dict[str, object]:
    """The JSON object the bridge expects for a delivery; SendError if it cannot be built."""
    if delivery.kind in _MESSAGE_KINDS:
        return {
            "id": delivery.key,
            "chat_id": delivery.target,
            "text": delivery.text,
            "mentions": list(delivery.mention_ids),
        }
    if delivery.kind == "action":
        action, user_id = delivery.extras.get("action"), delivery.extras.get("user_id")
        if not action or not user_id:
            raise SendError("bridge action needs extras 'action' and 'user_id'", retryable=False)
        return {
            "id": delivery.key,
            "action": action,
            "chat_id": delivery.target,
            "user_id": user_id,
            "reason": delivery.extras.get("reason", ""),
        }
    raise SendError(f"bridge cannot send kind {delivery.kind!r}", retryable=False)


class BridgeSender:
    """POSTs signed deliveries to the bridge's send URL."""

    def __init__(
        self,
        client: httpx.Client,
        send_url: str,
        secret: bytes,
        clock: Clock,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        if not secret:
            raise ValueError("BridgeSender needs a non-empty secret")
        self._client = client
        self._send_url = send_url
        self._secret = secret
        self._clock = clock
        self._timeout = timeout

    def send(self, delivery: Delivery) -> None:
        """Deliver once or raise SendError."""
        body = json.dumps(bridge_body(delivery), ensure_ascii=False, separators=(",", ":"))
        raw = body.encode("utf-8")
        timestamp = int(self._clock.now().timestamp())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign_bridge(self._secret, timestamp, raw),
        }
        try:
            response = self._client.post(
                self._send_url, content=raw, headers=headers, timeout=self._timeout
            )
        except httpx.InvalidURL:
            raise SendError("bridge send URL is invalid", retryable=False) from None
        except httpx.UnsupportedProtocol:
            raise SendError("bridge send URL has an unsupported scheme", retryable=False) from None
        except httpx.TimeoutException as exc:
            raise SendError(f"bridge timed out ({type(exc).__name__})", retryable=True) from None
        except httpx.HTTPError as exc:
            raise SendError(f"bridge unreachable ({type(exc).__name__})", retryable=True) from None
        if not response.is_success:
            raise SendError(
                f"bridge answered HTTP {response.status_code}: {response.text[:_BODY_EXCERPT]!r}",
                retryable=True,
                retry_after=_retry_after(response),
            )


def _retry_after(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds, if the bridge sent it as delta-seconds."""
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isascii() and value.isdigit() else None
