"""Helpers for the moderation tests that use the database: deliver messages the way the inbox
worker does, read cases and outbox rows, change stored rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import uuid4

from sqlalchemy import select

from app.clock import FixedClock
from app.db.models import Member, ModerationCase, OutboxRow
from app.db.session import transaction
from app.dispatcher import ProcessResult
from app.inbox import InboxItem, store_batch
from app.messages import ChatRef, InboundMessage, Kind, Platform, Role
from app.runtime import Runtime
from app.services import Services
from app.services.moderation import Outcome
from tests.factories import GROUP

T = TypeVar("T")
SHOP = "huayu-flower.example.com"


@dataclass(frozen=True, slots=True)
class Delivered:
    message: InboundMessage
    routes: tuple[str, ...]
    replies: list[OutboxRow]

    @property
    def texts(self) -> list[str]:
        return [row.text for row in self.replies]


def message(
    text: str,
    clock: FixedClock,
    *,
    user: str = "u-001",
    name: str = "小满",
    chat: ChatRef = GROUP,
    role: Role = Role.MEMBER,
    kind: Kind = Kind.TEXT,
    url: str | None = None,
    title: str | None = None,
    external_id: str | None = None,
) -> InboundMessage:
    return InboundMessage(
        chat=chat,
        external_id=external_id or uuid4().hex,
        sender_id=user,
        sender_name=name,
        sender_role=role,
        kind=kind,
        text=text,
        sent_at=clock.now(),
        url=url,
        title=title,
    )


def deliver(runtime: Runtime, item: InboundMessage) -> Delivered:
    """Store the message in the inbox and let the worker process it (the real path)."""
    store_batch(runtime.deps.session_factory, [InboxItem(item)], runtime.deps.clock, 0)
    result: ProcessResult | None = runtime.worker.process_next(item.dedupe_key)
    assert result is not None
    assert result.error is None, result.error
    return Delivered(item, result.routes, replies_of(runtime, item))


def say(runtime: Runtime, clock: FixedClock, text: str, **kw: Any) -> Delivered:
    return deliver(runtime, message(text, clock, **kw))


def replies_of(runtime: Runtime, item: InboundMessage) -> list[OutboxRow]:
    prefix = f"reply:{item.dedupe_key}:"
    with runtime.deps.session_factory() as session:
        rows = session.scalars(
            select(OutboxRow).where(OutboxRow.idempotency_key.startswith(prefix))
        ).all()
    return sorted(rows, key=lambda row: row.idempotency_key)


def cases(runtime: Runtime) -> list[ModerationCase]:
    with runtime.deps.session_factory() as session:
        return list(session.scalars(select(ModerationCase).order_by(ModerationCase.id)).all())


def outbox(runtime: Runtime, prefix: str) -> list[OutboxRow]:
    with runtime.deps.session_factory() as session:
        rows = session.scalars(
            select(OutboxRow)
            .where(OutboxRow.idempotency_key.startswith(prefix))
            .order_by(OutboxRow.id)
        ).all()
    return list(rows)


def in_services(runtime: Runtime, work: Callable[[Services], T]) -> T:
    """Run `work` with the services of one committed transaction."""
    with transaction(runtime.deps.session_factory) as session:
        return work(Services.build(session, runtime.deps))


def put_scope(runtime: Runtime, scope: str, document: Mapping[str, Any]) -> int:
    return in_services(
        runtime, lambda s: s.moderation.config.put_scope(scope, document, by="test")
    )


def shop_defaults(**settings: Any) -> dict[str, Any]:
    """A defaults document for the example shop: its domain and hotline allowed."""
    return {
        "settings": {
            "domain_whitelist": [SHOP],
            "phone_whitelist": ["400-123-5217"],
            **settings,
        }
    }


def moderate_in(services: Services, item: InboundMessage) -> Outcome:
    """What the moderation route does for a message, presence recorded as the worker does."""
    members = services.members
    chat_pk = members.ensure_chat(item.chat, now=item.sent_at)
    member_pk = members.ensure_member(
        str(item.chat.platform),
        item.sender_id,
        name=item.sender_name,
        role=item.sender_role,
        now=item.sent_at,
    )
    members.touch(chat_pk, member_pk, now=item.sent_at, counts=True)
    return services.moderation.moderate(
        item, chat_pk=chat_pk, member_pk=member_pk, at=item.sent_at
    )


def moderate(runtime: Runtime, item: InboundMessage) -> Outcome:
    return in_services(runtime, lambda services: moderate_in(services, item))


def member_pk(runtime: Runtime, user_id: str = "u-001") -> int:
    with runtime.deps.session_factory() as session:
        found = session.scalar(
            select(Member.id).where(Member.platform == "bridge", Member.external_id == user_id)
        )
    assert found is not None
    return int(found)


BRIDGE_GROUP = GROUP
WECOM_GROUP = ChatRef(Platform.WECOM_BOT, "wrkGroup01", is_group=True, name="企业微信内部群")
