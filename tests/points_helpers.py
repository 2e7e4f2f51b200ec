"""Helpers for the points, levels and check-in tests: seed members, build services, count rows."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.db.models import Chat, PointsAccount, PointsEntry
from app.db.session import is_sqlite, make_engine, make_session_factory, transaction
from app.handlers import PIPELINE
from app.messages import ChatRef, InboundMessage, Platform, Role
from app.pipeline import Context, Pipeline
from app.runtime import Runtime
from app.services import Services
from app.services.checkin import CheckinResult, CheckinService
from app.services.members import MembersService
from app.services.points import LedgerResult, PointsService
from app.services.points_config import PointsConfig, Rules, load_points_config
from tests.conftest import SHANGHAI

T = TypeVar("T")
Factory = sessionmaker[Session]


def seed_member(
    factory: Factory,
    at: datetime,
    *,
    user: str = "u-001",
    name: str = "小满",
    chat: str = "g-001",
    profile: str | None = None,
) -> tuple[int, int]:
    """A bridge member present in a bridge group; returns (members.id, chats.id)."""
    with transaction(factory) as session:
        members = MembersService(session)
        chat_pk = members.ensure_chat(ChatRef(Platform.BRIDGE, chat, True, "花屿会员群"), now=at)
        member_pk = members.ensure_member("bridge", user, name=name, role=Role.MEMBER, now=at)
        members.touch(chat_pk, member_pk, now=at, counts=False)
        if profile is not None:
            chat_row = session.get(Chat, chat_pk)
            assert chat_row is not None
            chat_row.profile = profile
    return member_pk, chat_pk


def config_with(**rules: Any) -> PointsConfig:
    """The shipped config with some default rules changed."""
    base = load_points_config()
    return base.model_copy(
        update={"rules": Rules.model_validate({**base.rules.model_dump(), **rules})}
    )


def points_service(
    session: Session, clock: Clock, config: PointsConfig | None = None
) -> PointsService:
    return PointsService(session, config or load_points_config(), clock, SHANGHAI)


def in_tx(factory: Factory, work: Callable[[Session], T]) -> T:
    with transaction(factory) as session:
        return work(session)


def apply(
    factory: Factory,
    clock: Clock,
    member_pk: int,
    delta: int,
    key: str,
    reason: str = "campaign",
    **kw: Any,
) -> LedgerResult:
    return in_tx(
        factory, lambda s: points_service(s, clock).apply(member_pk, delta, reason, key, **kw)
    )


def check_in(
    factory: Factory,
    clock: Clock,
    member_pk: int,
    chat_pk: int,
    config: PointsConfig | None = None,
) -> CheckinResult:
    def work(session: Session) -> CheckinResult:
        service = CheckinService(session, points_service(session, clock, config))
        return service.check_in(member_pk, chat_pk)

    return in_tx(factory, work)


def balance(factory: Factory, member_pk: int) -> int:
    with factory() as session:
        value = session.scalar(
            select(PointsAccount.balance).where(PointsAccount.member_id == member_pk)
        )
    return int(value or 0)


def entries(
    factory: Factory, member_pk: int | None = None, reason: str | None = None
) -> list[PointsEntry]:
    stmt = select(PointsEntry).order_by(PointsEntry.id)
    if member_pk is not None:
        stmt = stmt.where(PointsEntry.member_id == member_pk)
    if reason is not None:
        stmt = stmt.where(PointsEntry.reason == reason)
    with factory() as session:
        return list(session.scalars(stmt).all())


def count(factory: Factory, model: type) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def run_handler(
    runtime: Runtime, handler: Callable[[Context], object], message: InboundMessage
) -> list[str]:
    """Run a handler (or `PIPELINE.run`) the way the inbox worker does: presence recorded,
    one transaction; returns the reply texts."""
    with transaction(runtime.deps.session_factory) as session:
        services = Services.build(session, runtime.deps)
        chat_pk = services.members.ensure_chat(message.chat, now=message.sent_at)
        member_pk = services.members.ensure_member(
            str(message.chat.platform),
            message.sender_id,
            name=message.sender_name,
            role=message.sender_role,
            now=message.sent_at,
        )
        services.members.touch(chat_pk, member_pk, now=message.sent_at, counts=True)
        ctx = Context(message, services, runtime.deps.clock.now(), chat_pk, member_pk)
        handler(ctx)
        PIPELINE.finish(services)
        return [reply.text for reply in ctx.replies]


def race(db_url: str, threads: int, work: Callable[[Session], T]) -> list[T]:
    """Run `work` in `threads` threads at once, each in its own transaction on its own
    connection; returns every result (re-raising the first error).

    On PostgreSQL every thread first opens its transaction, then all wait at a barrier, so the
    transactions really overlap. SQLite has one writer (BEGIN IMMEDIATE): the threads are
    released together and queue for the write lock.
    """
    engine = make_engine(db_url, pool_size=threads)
    factory = make_session_factory(engine)
    barrier = threading.Barrier(threads, timeout=60)
    overlap = not is_sqlite(engine)

    def one(_: int) -> T:
        if not overlap:
            barrier.wait()
        with factory() as session, session.begin():
            if overlap:
                session.execute(text("SELECT 1"))
                barrier.wait()
            return work(session)

    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(one, range(threads)))
    finally:
        engine.dispose()


def routes(*names: str) -> Callable[[Context], object]:
    """Only these routes of the real pipeline (with their real filters, in pipeline order), so
    replies from other features' routes do not change what a points test sees."""
    return Pipeline(*(route for route in PIPELINE.routes if route.name in names)).run
