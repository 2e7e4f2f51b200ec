"""Local senders: print deliveries (the dev default) or record them (tests).

`ConsoleSender` runs in the outbox dispatcher when no real channel is configured and writes one
line per delivery to a stream; nothing is masked because nothing leaves the machine.
`RecordingSender` keeps deliveries in memory and can be told to fail, for dispatcher tests.
"""

from __future__ import annotations

import sys
from collections import deque
from typing import TextIO

from app.senders.base import Delivery, SendError


def format_delivery(delivery: Delivery) -> str:
    """One line: `[channel:target] @mention … text`, or the action for kind "action"."""
    prefix = f"[{delivery.channel}:{delivery.target}]"
    if delivery.kind == "action":
        extras = delivery.extras
        return (
            f"{prefix} action {extras.get('action', '?')} user={extras.get('user_id', '?')} "
            f"reason={extras.get('reason', '')}"
        )
    words = [prefix, *(f"@{user_id}" for user_id in delivery.mention_ids), delivery.text]
    return " ".join(words)


class ConsoleSender:
    """Writes each delivery as one line; `stream` defaults to the current `sys.stdout`."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, delivery: Delivery) -> None:
        """Print the delivery; never fails."""
        stream = self._stream if self._stream is not None else sys.stdout
        stream.write(format_delivery(delivery) + "\n")
        stream.flush()


class RecordingSender:
    """Keeps successful deliveries in `sent` and every call in `attempts`.

    `fail_next(error, …)` makes the next calls raise those errors in order (the attempt is still
    recorded), so dispatcher tests can script retries and dead letters without a network.
    """

    def __init__(self) -> None:
        self.sent: list[Delivery] = []
        self.attempts: list[Delivery] = []
        self._failures: deque[SendError] = deque()

    def fail_next(self, *errors: SendError) -> None:
        """Raise these errors on the next calls, one per call, before succeeding again."""
        self._failures.extend(errors)

    def send(self, delivery: Delivery) -> None:
        """Record the delivery, or raise the next scripted error."""
        self.attempts.append(delivery)
        if self._failures:
            raise self._failures.popleft()
        self.sent.append(delivery)
