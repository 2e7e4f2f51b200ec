"""The enqueue job: every occurrence × group becomes one outbox row, exactly once — across
ticks, restarts, a killed scheduler and two schedulers at once — and late ones are missed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock, FixedClock
from app.db.models import Chat, OutboxRow, Post, PostDelivery, PostOccurrence
from app.db.session import make_engine, make_session_factory
from app.jobs.posts import enqueue_due_posts
from app.jobs.registry import JobContext, SchedulerConfig, load_scheduler_config
from app.outbox import OutboxDispatcher
from app.runtime import Runtime
from app.senders.base import Delivery
from app.senders.console import RecordingSender
from app.services import AppDeps
from app.services.calendar import CalendarService
from app.services.posts import PostContent, PostDraft, PostsService, Targets
from app.services.recurrence import make_schedule
from app.settings import OutboxSettings
from tests.conftest import SHANGHAI

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = ("bridge", "console", "wecom_robot", "wecom_app", "wecom_bot")


def make_config(**changes: object) -> SchedulerConfig:
    config = load_scheduler_config()
    report = config.report.model_copy(update={"chat_id": "g-admin"})
    return config.model_copy(update={"report": report, **changes})


def make_ctx(runtime: Runtime, **changes: object) -> JobContext:
    return JobContext(runtime.deps, make_config(**changes))


def add_chats(
    factory: sessionmaker[Session], count: int, *, prefix: str = "g", **fields: object
) -> list[int]:
    with factory.begin() as session:
        chats = [
            Chat(
                platform=str(fields.get("platform", "bridge")),
                external_id=f"{prefix}-{i:03d}",
                name=f"花屿会员{i}群",
                is_group=True,
                tags=list(fields.get("tags", ["会员"])),  # type: ignore[call-overload]
                robot=fields.get("robot"),
                created_at=datetime(2026, 1, 1, tzinfo=SHANGHAI),
            )
            for i in range(count)
        ]
        session.add_all(chats)
        session.flush()
        return [c.id for c in chats]


def add_post(
    factory: sessionmaker[Session],
    clock: Clock,
    targets: Targets,
    *,
    text: str = "今晚 8 点直播：冬季绿植养护",
    approve: bool = True,
    **schedule: object,
) -> int:
    with factory.begin() as session:
        posts = PostsService(session, tz=SHANGHAI, now=clock.now(), grace=timedelta(minutes=10))
        draft = PostDraft(
            PostContent("text", text=text),
            targets,
            make_schedule(tz=SHANGHAI, now=clock.now(), **schedule),  # type: ignore[arg-type]
            title="直播预告",
        )
        post = posts.create(draft, actor="test")
        if approve:
            posts.approve(post.id, actor="test")
        return post.id


def outbox_rows(factory: sessionmaker[Session]) -> list[OutboxRow]:
    with factory() as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def dispatcher(
    factory: sessionmaker[Session], clock: Clock, sender: RecordingSender
) -> OutboxDispatcher:
    return OutboxDispatcher(factory, dict.fromkeys(CHANNELS, sender), clock, OutboxSettings())


# -- basics --------------------------------------------------------------------------------
def test_due_post_becomes_one_row_per_group_and_a_second_tick_adds_nothing(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    pks = add_chats(factory, 3)
    post_id = add_post(
        factory, clock, Targets(tags=("会员",)), at=clock.now() + timedelta(minutes=2)
    )
    ctx = make_ctx(runtime)

    assert enqueue_due_posts(ctx).outbox_rows == 0  # not due yet
    clock.advance(minutes=2)
    first = enqueue_due_posts(ctx)
    second = enqueue_due_posts(ctx)

    rows = outbox_rows(factory)
    assert (first.occurrences, first.deliveries, first.outbox_rows) == (1, 3, 3)
    assert second.outbox_rows == 0
    assert sorted(r.chat_id for r in rows if r.chat_id) == sorted(pks)
    assert {r.channel for r in rows} == {"bridge"}
    assert {r.status for r in rows} == {"queued"}
    with factory() as session:
        assert session.get(Post, post_id).status == "done"  # type: ignore[union-attr]
    sender = RecordingSender()
    assert dispatcher(factory, clock, sender).drain().sent == 3
    assert Counter(d.target for d in sender.sent) == Counter({f"g-{i:03d}": 1 for i in range(3)})


def test_recurring_post_fires_each_day_and_deliveries_show_per_group_status(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 2)
    post_id = add_post(factory, clock, Targets(tags=("会员",)), cron="0 10 * * *")
    ctx = make_ctx(runtime)
    sender = RecordingSender()

    for day in (23, 24, 25):
        clock.set(datetime(2026, 11, day, 10, 0, 30, tzinfo=SHANGHAI))
        enqueue_due_posts(ctx)
        dispatcher(factory, clock, sender).drain()

    assert count(factory, PostOccurrence) == 3
    assert len(sender.sent) == 6
    with factory() as session:
        post = session.get(Post, post_id)
        assert post is not None
        assert post.status == "scheduled"
        views = CalendarService(
            session,
            tz=SHANGHAI,
            now=clock.now(),
            robots=ctx.config.robot_keys(),
            notes=ctx.config.texts.notes(),
            per_minute=18,
        ).post_deliveries(post, upcoming=1)
    assert [v.status for v in views] == ["sent"] * 6 + ["queued", "queued"]
    assert [v.planned for v in views][-2:] == [True, True]
    assert views[0].due_at == datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
    assert views[-1].due_at == datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)


def test_paused_and_draft_posts_are_not_enqueued(runtime: Runtime, clock: FixedClock) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 1)
    at = clock.now() + timedelta(minutes=1)
    add_post(factory, clock, Targets(tags=("会员",)), at=at, approve=False)
    paused = add_post(factory, clock, Targets(tags=("会员",)), at=at)
    with factory.begin() as session:
        PostsService(session, tz=SHANGHAI, now=clock.now(), grace=timedelta(0)).pause(
            paused, actor=None
        )
    clock.advance(minutes=5)

    assert enqueue_due_posts(make_ctx(runtime)).outbox_rows == 0
    assert count(factory, OutboxRow) == 0


def test_customer_groups_get_a_staff_confirmed_task_instead_of_a_send(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 2, prefix="wr", platform="wecom_app")
    add_post(factory, clock, Targets(tags=("会员",)), at=clock.now() + timedelta(minutes=1))
    clock.advance(minutes=1)

    enqueue_due_posts(make_ctx(runtime))
    sender = RecordingSender()
    dispatcher(factory, clock, sender).drain()

    rows = outbox_rows(factory)
    assert [r.status for r in rows] == ["awaiting_confirmation"] * 2
    assert "员工" in (rows[0].last_error or "")
    assert sender.attempts == []


def test_cancel_withdraws_deliveries_not_yet_sent(runtime: Runtime, clock: FixedClock) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 2)
    post_id = add_post(factory, clock, Targets(tags=("会员",)), cron="0 10 * * *")
    clock.set(datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI))
    enqueue_due_posts(make_ctx(runtime))

    with factory.begin() as session:
        withdrawn = PostsService(session, tz=SHANGHAI, now=clock.now(), grace=timedelta(0)).cancel(
            post_id, actor="店长", note="内容有误"
        )
    sender = RecordingSender()
    dispatcher(factory, clock, sender).drain()

    assert withdrawn == 2
    assert {r.status for r in outbox_rows(factory)} == {"dead"}
    assert {r.last_error for r in outbox_rows(factory)} == {"内容有误"}
    assert sender.attempts == []


# -- lateness: catch-up within grace, missed beyond it --------------------------------------
def test_after_downtime_recent_occurrence_is_sent_older_ones_are_missed_and_alerted(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 2)
    add_post(factory, clock, Targets(tags=("会员",)), cron="0 10 * * *")  # daily 10:00
    # The scheduler is down from Monday 09:30 until Thursday 10:05 (grace: 10 minutes).
    clock.set(datetime(2026, 11, 26, 10, 5, tzinfo=SHANGHAI))

    report = enqueue_due_posts(make_ctx(runtime))

    with factory() as session:
        occurrences = session.execute(
            select(PostOccurrence.due_at, PostOccurrence.status).order_by(PostOccurrence.due_at)
        ).all()
    assert [(d.astimezone(SHANGHAI).day, s) for d, s in occurrences] == [
        (23, "missed"),
        (24, "missed"),
        (25, "missed"),
        (26, "enqueued"),
    ]
    assert report.missed == 3
    statuses = Counter(
        r.status for r in outbox_rows(factory) if r.idempotency_key.startswith("post:")
    )
    assert statuses == Counter({"missed": 6, "queued": 2})
    alerts = [r for r in outbox_rows(factory) if r.idempotency_key.startswith("alert:missed:")]
    assert len(alerts) == 1
    assert alerts[0].target == "g-admin"
    assert "直播预告" in alerts[0].text
    assert "共 3 次" in alerts[0].text
    sender = RecordingSender()
    dispatcher(factory, clock, sender).drain()
    assert Counter(d.key.startswith("post:") for d in sender.sent) == Counter({True: 2, False: 1})


def test_exactly_at_the_grace_limit_is_still_sent(runtime: Runtime, clock: FixedClock) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 1)
    at = clock.now() + timedelta(minutes=1)
    add_post(factory, clock, Targets(tags=("会员",)), at=at)
    clock.set(at + timedelta(seconds=600))

    enqueue_due_posts(make_ctx(runtime, grace_seconds=600))

    assert [r.status for r in outbox_rows(factory)] == ["queued"]


def test_a_long_outage_is_worked_off_in_bounded_passes(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 1)
    add_post(factory, clock, Targets(tags=("会员",)), cron="*/5 * * * *")
    clock.advance(hours=10)

    report = enqueue_due_posts(make_ctx(runtime, max_catch_up=25, batch_size=1))

    assert report.occurrences == 121  # 09:30 … 19:30
    assert report.missed == 118  # all but 19:20, 19:25 and 19:30 (10 minutes of grace)
    with factory() as session:
        post = session.scalars(select(Post)).one()
        assert post.next_due_at is not None
        assert post.next_due_at > clock.now()


# -- exactly once under failures -----------------------------------------------------------
def test_a_replayed_cursor_cannot_enqueue_twice(runtime: Runtime, clock: FixedClock) -> None:
    """A restart or a stale second scheduler that sees an old cursor: unique keys hold."""
    factory = runtime.deps.session_factory
    add_chats(factory, 3)
    at = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
    post_id = add_post(factory, clock, Targets(tags=("会员",)), cron="0 10 * * *")
    clock.set(at)
    ctx = make_ctx(runtime)
    enqueue_due_posts(ctx)
    with factory.begin() as session:  # rewind the cursor as if the commit had been lost
        session.execute(update(Post).where(Post.id == post_id).values(next_due_at=at))

    again = enqueue_due_posts(ctx)

    assert again.occurrences == 0
    assert again.outbox_rows == 0
    assert count(factory, OutboxRow) == 3
    assert count(factory, PostDelivery) == 3


KILL_AFTER_ENQUEUE = """
import os, sys
from datetime import datetime
from pydantic import SecretStr
from app.clock import FixedClock
from app.jobs.posts import enqueue_due_posts
from app.jobs.registry import JobContext, load_scheduler_config
from app.runtime import build_runtime
from app.settings import Settings

settings = Settings(_env_file=None, environment="test", database_url=sys.argv[1],
                    admin_token=SecretStr("x" * 20), bridge_secret=SecretStr("y" * 20))
runtime = build_runtime(settings, clock=FixedClock(datetime.fromisoformat(sys.argv[2])))
report = enqueue_due_posts(JobContext(runtime.deps, load_scheduler_config()))
print(report.outbox_rows, flush=True)
os._exit(9)  # killed after the outbox commit, before the dispatcher sent anything
"""


def test_scheduler_killed_between_outbox_write_and_send_delivers_once_after_restart(
    runtime: Runtime, clock: FixedClock, db_url: str
) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 4)
    add_post(factory, clock, Targets(tags=("会员",)), at=clock.now() + timedelta(minutes=1))
    clock.advance(minutes=1)

    killed = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_ENQUEUE, db_url, clock.now().isoformat()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert killed.returncode == 9, killed.stderr
    assert killed.stdout.strip() == "4"
    assert {r.status for r in outbox_rows(factory)} == {"queued"}

    clock.advance(seconds=30)  # the restarted scheduler ticks again, then sends
    assert enqueue_due_posts(make_ctx(runtime)).outbox_rows == 0
    sender = RecordingSender()
    dispatcher(factory, clock, sender).drain()
    dispatcher(factory, clock, sender).drain()

    assert len(sender.sent) == 4
    assert len({d.key for d in sender.sent}) == 4
    assert {r.status for r in outbox_rows(factory)} == {"sent"}


def test_killed_inside_the_enqueue_transaction_leaves_nothing_half_done(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 2)
    add_post(factory, clock, Targets(tags=("会员",)), at=clock.now() + timedelta(minutes=1))
    clock.advance(minutes=1)

    class Crash(Exception):
        pass

    def crash() -> None:
        raise Crash

    ctx = JobContext(runtime.deps, make_config(), on_enqueued=crash)
    with pytest.raises(Crash):  # dies right after the first commit
        enqueue_due_posts(ctx)
    assert count(factory, OutboxRow) == 2
    assert enqueue_due_posts(make_ctx(runtime)).outbox_rows == 0


@dataclass
class Runner:
    """One scheduler process: its own engine, session factory and context."""

    db_url: str
    clock: Clock
    runtime: Runtime
    factory: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.db_url)
        self.factory = make_session_factory(self.engine)
        self.ctx = JobContext(
            AppDeps(self.runtime.settings, self.clock, self.factory, self.runtime.deps.texts),
            make_config(batch_size=7),
        )


@pytest.fixture
def runners(db_url: str, runtime: Runtime, clock: FixedClock) -> Iterator[list[Runner]]:
    made = [Runner(db_url, clock, runtime) for _ in range(2)]
    yield made
    for runner in made:
        runner.engine.dispose()


def test_two_schedulers_at_once_enqueue_and_deliver_every_occurrence_once(
    runtime: Runtime, clock: FixedClock, runners: list[Runner]
) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 12)
    for i in range(30):
        add_post(
            factory,
            clock,
            Targets(tags=("会员",)),
            text=f"第{i}条",
            at=clock.now() + timedelta(minutes=1),
        )
    clock.advance(minutes=1)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(runner: Runner) -> None:
        try:
            start.wait(timeout=30)
            enqueue_due_posts(runner.ctx)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(r,)) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert count(factory, PostOccurrence) == 30
    assert count(factory, OutboxRow) == 360
    sent = _dispatch_concurrently(runners, clock)
    assert len(sent) == 360
    assert len({d.key for d in sent}) == 360


def _dispatch_concurrently(runners: list[Runner], clock: Clock) -> list[Delivery]:
    sender = RecordingSender()
    lock = threading.Lock()

    class Locked:
        def send(self, delivery: Delivery) -> None:
            with lock:
                sender.send(delivery)

    barrier = threading.Barrier(len(runners))

    def drain(runner: Runner) -> None:
        barrier.wait(timeout=30)
        OutboxDispatcher(
            runner.factory, dict.fromkeys(CHANNELS, Locked()), clock, OutboxSettings()
        ).drain()

    threads = [threading.Thread(target=drain, args=(r,)) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sender.sent


# -- the robot limit -------------------------------------------------------------------------
class TimedSender(RecordingSender):
    """A RecordingSender that also notes the (fixed) clock's time of every send."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.times: list[datetime] = []

    def send(self, delivery: Delivery) -> None:
        super().send(delivery)
        self.times.append(self.clock.now())


def test_a_50_group_robot_blast_is_spread_and_finishes_when_announced(
    runtime: Runtime, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUNYUN_TEST_ROBOT_KEY", "key-123")
    factory = runtime.deps.session_factory
    add_chats(factory, 50, robot="ops")
    due = clock.now() + timedelta(minutes=1)
    post_id = add_post(factory, clock, Targets(tags=("会员",)), at=due)
    ctx = make_ctx(runtime, robots={"ops": "QUNYUN_TEST_ROBOT_KEY"})
    settings = OutboxSettings()
    with factory() as session:
        calendar = CalendarService(
            session,
            tz=SHANGHAI,
            now=clock.now(),
            robots=ctx.config.robot_keys(),
            notes=ctx.config.texts.notes(),
            per_minute=settings.robot_messages_per_minute,
        )
        announced = calendar.next_finish(session.get(Post, post_id))  # type: ignore[arg-type]
    clock.set(due)
    enqueue_due_posts(ctx)
    sender = TimedSender(clock)
    robot = OutboxDispatcher(factory, {"wecom_robot": sender}, clock, settings)

    for _ in range(300):  # five simulated minutes, one pass a second
        robot.run_once()
        clock.advance(seconds=1)

    assert len(sender.sent) == 50 == len({d.key for d in sender.sent})
    for index, first in enumerate(sender.times):
        window = [t for t in sender.times[index:] if t - first < timedelta(seconds=60)]
        assert len(window) <= settings.robot_messages_per_minute <= 20
    assert announced == due + timedelta(minutes=2)  # 18 + 18 + 14 messages
    assert abs((max(sender.times) - announced).total_seconds()) <= 5
