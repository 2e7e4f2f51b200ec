"""The sender contract shared by every channel.

The outbox dispatcher claims a row, builds a `Delivery`, and calls `Sender.send`. A sender makes
exactly one network call per delivery (splitting long texts happens when rows are enqueued, so
rate limits count real API calls). Failures are reported as `SendError`; the dispatcher owns
retries, backoff, rate limits and the dead-letter state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row as a sender sees it.

    `channel` picks the sender ("console", "bridge", "wecom_robot", "wecom_app", "wecom_bot").
    `target` is the channel's address: a bridge chat id, a WeCom user id, a robot name.
    `kind` is "text", "markdown", "news" or "action" (bridge actions such as remove_member).
    `extras` carries channel-specific fields: `response_url` (AI bot), `robot_key`
    (group robot), `articles` (news, JSON), `action`/`user_id`/`reason` (bridge actions).
    """

    key: str  # idempotency key, stable across retries
    channel: str
    target: str
    text: str
    kind: str = "text"
    mention_ids: tuple[str, ...] = ()
    extras: Mapping[str, str] = field(default_factory=dict)


class SendError(Exception):
    """A failed send. `retryable` False means retrying cannot help (bad config, bad target)."""

    def __init__(
        self, reason: str, *, retryable: bool = True, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after  # seconds the channel asked us to wait (e.g. 45009)


class Sender(Protocol):
    def send(self, delivery: Delivery) -> None:
        """Deliver once or raise SendError."""
        ...
