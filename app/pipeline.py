"""Ordered message pipeline: a route is (name, handler, filters); see app/handlers/__init__.py.

Handlers are plain functions `handle(ctx) -> Flow` that run inside the inbox worker's
transaction: whatever they change and every reply they queue commit together, or not at all.
A route may also have a `prepare(services, arrivals, now)` hook: the worker calls it once per
batch, before any message of the batch runs, so a handler can read what the whole batch needs
in one query instead of one per message. A hook only reads ahead; the handler decides.
A route may also have a `finish(services)` hook, called once after the batch's last message
and before anything is committed: it writes what its handler held back for the whole batch,
and may still add replies to the batch's messages (they are queued after the hooks ran).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, auto
from typing import TYPE_CHECKING, TypeAlias

from app.messages import InboundMessage, Outgoing

if TYPE_CHECKING:
    from app.services import Services

log = logging.getLogger(__name__)


class Flow(Enum):
    CONTINUE = auto()
    STOP = auto()


@dataclass(slots=True)
class Context:
    """What a handler sees: the message, the services, the time, and the replies so far."""

    message: InboundMessage
    services: Services
    now: datetime
    chat_pk: int  # chats.id
    member_pk: int  # members.id of the sender
    replies: list[Outgoing] = field(default_factory=list)
    command_args: str = ""  # text after a matched command word, set by the command filter
    awaiting: int = 0  # replies promised by `reply_later`, not given yet

    @property
    def answered(self) -> bool:
        return bool(self.replies) or self.awaiting > 0

    @property
    def text(self) -> str:
        return self.message.text

    def reply(self, text: str, *, mention_sender: bool = False, markdown: bool = False) -> None:
        mentions = (self.message.sender_id,) if mention_sender else ()
        fmt = "markdown" if markdown else "text"
        self.replies.append(Outgoing(self.message.chat, text, mentions, fmt))

    def reply_later(self) -> Callable[[str], None]:
        """A reply decided by a route's `finish` hook: the message counts as answered now
        (later routes such as the FAQ leave it alone); call the result with the text."""
        self.awaiting += 1

        def give(text: str) -> None:
            self.awaiting -= 1
            self.reply(text)

        return give


@dataclass(frozen=True, slots=True)
class Arrival:
    """A message of the batch before the pipeline runs, as a `prepare` hook sees it."""

    message: InboundMessage
    chat_pk: int
    member_pk: int


Handler: TypeAlias = Callable[[Context], Flow]
Filter: TypeAlias = Callable[[Context], bool]
BatchHook: TypeAlias = Callable[["Services", Sequence[Arrival], datetime], None]
FinishHook: TypeAlias = Callable[["Services"], None]


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    handler: Handler
    when: tuple[Filter, ...] = ()
    prepare: BatchHook | None = None
    finish: FinishHook | None = None


class Pipeline:
    def __init__(self, *routes: Route) -> None:
        names = [route.name for route in routes]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate route names in pipeline: {names}")
        self.routes = routes

    def prepare(self, services: Services, arrivals: Sequence[Arrival], now: datetime) -> None:
        """Let the routes read ahead for a batch (see the module docstring)."""
        for route in self.routes:
            if route.prepare is not None:
                route.prepare(services, arrivals, now)

    def finish(self, services: Services) -> None:
        """Let the routes write what they held back for the batch (see the docstring)."""
        for route in self.routes:
            if route.finish is not None:
                route.finish(services)

    def run(self, ctx: Context) -> list[str]:
        """Run the routes in order; returns the names of the routes that ran."""
        ran: list[str] = []
        for route in self.routes:
            # A plain loop rather than all(<generator>): this runs for every route of every
            # message, and the generator was a tenth of the pipeline's own time.
            for check in route.when:
                if not check(ctx):
                    break
            else:
                ran.append(route.name)
                if route.handler(ctx) is Flow.STOP:
                    log.info("pipeline stopped", extra={"route": route.name})
                    break
        return ran
