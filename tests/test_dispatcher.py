"""The inbox worker: one transaction per message, processed once even across crashes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import InboxRow, OutboxRow
from app.dispatcher import InboxWorker
from app.inbox import InboxItem, store_batch
from app.pipeline import Context, Flow, Pipeline, Route
from app.runtime import Runtime
from tests.factories import make_message

ROOT = Path(__file__).resolve().parents[1]


def _count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_worker_killed_mid_message_then_restarted_processes_it_once(
    runtime: Runtime, db_url: str, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    store_batch(factory, [InboxItem(make_message("帮助", at=clock.now()))], clock, 0)

    crashed = subprocess.run(
        [sys.executable, "-m", "tests.crash_worker", db_url], cwd=ROOT, timeout=120, check=False
    )

    assert crashed.returncode == 9
    assert _count(factory, OutboxRow) == 0  # nothing of the half-done work survived
    with factory() as session:
        assert session.scalars(select(InboxRow.status)).one() == "pending"

    assert runtime.worker.drain() == 1  # the restarted worker picks the row up
    assert runtime.worker.drain() == 0
    with factory() as session:
        assert session.scalars(select(InboxRow.status)).one() == "done"
        assert [row.text[:4] for row in session.scalars(select(OutboxRow))] == ["群助手可"]


def test_a_failing_handler_is_retried_then_parked_as_failed(
    runtime: Runtime, clock: FixedClock
) -> None:
    calls: list[str] = []

    def broken(ctx: Context) -> Flow:
        calls.append(ctx.message.text)
        ctx.reply("不会发出")
        raise RuntimeError("bug")

    worker = InboxWorker(runtime.deps, Pipeline(Route("broken", broken)))
    factory = runtime.deps.session_factory
    store_batch(factory, [InboxItem(make_message("你好", at=clock.now()))], clock, 0)

    worker.drain()

    assert len(calls) == runtime.settings.inbox.max_attempts
    with factory() as session:
        row = session.scalars(select(InboxRow)).one()
    assert row.status == "failed"
    assert "bug" in (row.last_error or "")
    assert _count(factory, OutboxRow) == 0


def test_stop_ends_the_pipeline_and_replies_commit_with_state(
    runtime: Runtime, clock: FixedClock
) -> None:
    seen: list[str] = []

    def first(ctx: Context) -> Flow:
        seen.append("first")
        ctx.reply("第一")
        return Flow.STOP

    def second(ctx: Context) -> Flow:
        seen.append("second")
        return Flow.CONTINUE

    worker = InboxWorker(runtime.deps, Pipeline(Route("a", first), Route("b", second)))
    store_batch(
        runtime.deps.session_factory, [InboxItem(make_message("x", at=clock.now()))], clock, 0
    )

    worker.drain()

    assert seen == ["first"]
    assert _count(runtime.deps.session_factory, OutboxRow) == 1
