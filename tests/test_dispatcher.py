"""The inbox worker: one transaction per message, processed once even across crashes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import InboxRow, Member, OutboxRow
from app.dispatcher import InboxWorker
from app.inbox import InboxItem, store_batch
from app.messages import ChatRef, Platform
from app.pipeline import Context, Flow, Pipeline, Route
from app.runtime import Runtime
from tests.factories import make_message
from tests.points_helpers import apply, balance
from tests.statements import statements

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


# -- batches ---------------------------------------------------------------------------------
def _store_texts(runtime: Runtime, clock: FixedClock, texts: list[str]) -> None:
    items = [InboxItem(make_message(text, at=clock.now())) for text in texts]
    store_batch(runtime.deps.session_factory, items, clock, 0)


def _rows(factory: sessionmaker[Session]) -> list[InboxRow]:
    with factory() as session:
        return list(session.scalars(select(InboxRow).order_by(InboxRow.id)))


def _outbox_texts(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return list(session.scalars(select(OutboxRow.text).order_by(OutboxRow.id)))


def test_one_failing_message_does_not_take_its_batch_down(
    runtime: Runtime, clock: FixedClock
) -> None:
    calls: list[str] = []

    def echo(ctx: Context) -> Flow:
        calls.append(ctx.text)
        if ctx.text == "坏":
            raise RuntimeError("bug")
        ctx.reply(f"回复:{ctx.text}")
        return Flow.CONTINUE

    worker = InboxWorker(runtime.deps, Pipeline(Route("echo", echo)))
    factory = runtime.deps.session_factory
    _store_texts(runtime, clock, ["一", "坏", "三"])

    results = worker.process_batch()

    assert [r.error is not None for r in results] == [False, True, False]
    assert calls.count("坏") == 1  # one attempt, one call
    assert _outbox_texts(factory) == ["回复:一", "回复:三"]  # no trace of the failed one
    statuses = [(row.status, row.attempts) for row in _rows(factory)]
    assert statuses == [("done", 0), ("pending", 1), ("done", 0)]
    assert "bug" in (_rows(factory)[1].last_error or "")

    worker.drain()  # retried alone until parked
    failed = _rows(factory)[1]
    assert (failed.status, failed.attempts) == ("failed", runtime.settings.inbox.max_attempts)
    assert calls.count("坏") == runtime.settings.inbox.max_attempts
    # "一" ran before "坏" and again in the re-run without it; only the re-run committed.
    assert calls.count("一") == 2


def test_a_batch_is_one_transaction_of_up_to_batch_size_rows(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    size = runtime.settings.inbox.batch_size
    _store_texts(runtime, clock, ["帮助"] * (size + 3))

    first = runtime.worker.process_batch()
    assert len(first) == size
    assert sum(row.status == "done" for row in _rows(factory)) == size
    assert len(runtime.worker.process_batch()) == 3
    assert runtime.worker.process_batch() == []
    assert _count(factory, OutboxRow) == size + 3


def test_a_batch_commits_early_when_callbacks_wait_for_the_write_lock(
    runtime: Runtime, clock: FixedClock
) -> None:
    waiting = [False]

    def echo(ctx: Context) -> Flow:
        ctx.reply(f"回复:{ctx.text}")
        waiting[0] = ctx.text == "二"  # a callback arrives while "二" is processed
        return Flow.CONTINUE

    worker = InboxWorker(
        runtime.deps, Pipeline(Route("echo", echo)), commit_soon=lambda: waiting[0]
    )
    factory = runtime.deps.session_factory
    _store_texts(runtime, clock, ["一", "二", "三", "四"])

    first = worker.process_batch()

    assert len(first) == 2
    assert [row.status for row in _rows(factory)] == ["done", "done", "pending", "pending"]
    assert _outbox_texts(factory) == ["回复:一", "回复:二"]
    assert len(worker.process_batch()) == 2  # nothing waits now: the rest in one batch
    assert _outbox_texts(factory) == ["回复:一", "回复:二", "回复:三", "回复:四"]


def test_worker_killed_mid_batch_then_restarted_processes_every_row_once(
    runtime: Runtime, db_url: str, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    _store_texts(runtime, clock, ["帮助", "帮助", "崩溃", "帮助"])

    crashed = subprocess.run(
        [sys.executable, "-m", "tests.crash_worker", db_url, "崩溃"],
        cwd=ROOT,
        timeout=120,
        check=False,
    )

    assert crashed.returncode == 9
    assert _count(factory, OutboxRow) == 0  # the first two replies went with the batch
    assert {row.status for row in _rows(factory)} == {"pending"}

    assert runtime.worker.drain() == 4
    assert runtime.worker.drain() == 0
    assert {row.status for row in _rows(factory)} == {"done"}
    assert [text[:4] for text in _outbox_texts(factory)] == ["群助手可"] * 3  # one reply each


def test_a_batch_reads_its_groups_rules_scope_once_not_per_group(
    runtime: Runtime, clock: FixedClock
) -> None:
    """Moderation and activity points need each group's profile: a batch from several groups
    reads them in one query each (prepare hooks), whatever the number of groups."""
    groups = [ChatRef(Platform.BRIDGE, f"g-{n}", is_group=True, name=f"群{n}") for n in range(5)]
    texts = (
        "早上好呀",
        "昨天收到的玫瑰很新鲜",
        "周末有人去花市吗",
        "绣球怎么养才不蔫",
        "孩子说想学插花",
        "今天下雨记得带伞",
        "同城配送真快",
        "包装纸好漂亮",
        "想给妈妈订一束康乃馨",
        "大家晚安",
    )
    messages = [
        make_message(text, at=clock.now(), chat=groups[n % 5], user=f"u-{n}")
        for n, text in enumerate(texts)
    ]
    runtime.writer.store_now([InboxItem(m) for m in messages])
    engine = runtime.deps.session_factory.kw["bind"]

    def profile_read(statement: str) -> bool:
        return statement.lstrip().startswith("SELECT") and "chats.profile" in statement

    with statements(engine, profile_read) as profile_reads:
        results = runtime.worker.process_batch(20)

    assert [r.error for r in results] == [None] * 10
    assert all("activity" in r.routes for r in results)
    assert len(profile_reads) == 2  # moderation's and points', each once for the 5 groups


def test_a_batch_writes_activity_points_once_and_replies_on_the_right_message(
    runtime: Runtime, clock: FixedClock
) -> None:
    """Activity points of a batch are written at its end, yet a 积分 later in the batch sees
    them, and a level-up is announced as a reply to the message that reached the level."""
    factory = runtime.deps.session_factory
    runtime.writer.store_now([InboxItem(make_message("大家早上好呀", at=clock.now()))])
    runtime.worker.drain()  # the member exists now, with 2 activity points
    member_pk = seed_points(factory, clock, 96)  # 98: the next 2 points reach Lv2 (100)
    clock.advance(minutes=5)
    batch = [
        make_message("今天的花好漂亮", at=clock.now()),
        make_message("有人一起去花市吗", at=clock.now(), user="u-002"),
        make_message("积分", at=clock.now()),
    ]
    runtime.writer.store_now([InboxItem(m) for m in batch])

    def ledger_write(statement: str) -> bool:
        return statement.lstrip().startswith("INSERT INTO points_ledger")

    with statements(factory.kw["bind"], ledger_write) as ledger_writes:
        results = runtime.worker.process_batch(10)

    assert [r.replies for r in results] == [1, 0, 1]
    with factory() as session:
        replies = {
            row.idempotency_key: row.text
            for row in session.scalars(select(OutboxRow).where(OutboxRow.text != ""))
        }
    assert replies[f"reply:{batch[0].dedupe_key}:0"].startswith("🎉 恭喜")
    assert "积分：100" in replies[f"reply:{batch[2].dedupe_key}:0"]  # sees the held award
    assert len(ledger_writes) == 1  # the batch's credits (both members) in one statement
    assert balance(factory, member_pk) == 100  # the 积分 message itself was cooling down


def seed_points(factory: sessionmaker[Session], clock: FixedClock, points: int) -> int:
    """Give the only member `points` more; returns their members.id."""
    with factory() as session:
        member_pk = session.scalars(select(Member.id)).one()
    apply(factory, clock, member_pk, points, "seed")
    return member_pk
