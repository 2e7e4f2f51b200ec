"""The calendar: delivery status per group, planned vs handled occurrences, blast estimates."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from app.clock import FixedClock
from app.db.models import Post
from app.jobs.posts import enqueue_due_posts
from app.jobs.registry import JobContext
from app.outbox import OutboxDraft, enqueue
from app.runtime import Runtime
from app.services.calendar import CalendarService, combine
from app.services.posts import DeliveryNotes, RobotKeys, Targets
from tests.conftest import SHANGHAI
from tests.jobs.test_posts import add_chats, add_post, make_config

ROBOTS = RobotKeys({"ops": "K"}, {"K": "key"})


def _calendar(session: Session, clock: FixedClock, per_minute: int = 18) -> CalendarService:
    return CalendarService(
        session,
        tz=SHANGHAI,
        now=clock.now(),
        robots=ROBOTS,
        notes=DeliveryNotes(),
        per_minute=per_minute,
    )


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["sent", "sent"], "sent"),
        (["sent", "queued"], "queued"),
        (["sent", "sending"], "queued"),
        (["sent", "dead"], "dead"),
        (["failed", "queued"], "failed"),
        (["missed"], "missed"),
        (["awaiting_confirmation"], "awaiting_confirmation"),
    ],
)
def test_split_deliveries_report_their_most_telling_status(
    statuses: list[str], expected: str
) -> None:
    assert combine(statuses) == expected


def test_range_limits(runtime: Runtime, clock: FixedClock) -> None:
    with runtime.deps.session_factory() as session:
        calendar = _calendar(session, clock)
        with pytest.raises(ValueError, match="end after"):
            calendar.occurrences(clock.now(), clock.now())
        with pytest.raises(ValueError, match="at most"):
            calendar.occurrences(clock.now(), clock.now() + timedelta(days=100))


def test_missed_planned_and_paused_occurrences_side_by_side(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 2)
    add_post(factory, clock, Targets(tags=("会员",)), cron="0 10 * * *")
    clock.set(datetime(2026, 11, 23, 11, 0, tzinfo=SHANGHAI))  # 10:00 is an hour late
    enqueue_due_posts(JobContext(runtime.deps, make_config()))

    with factory() as session:
        items = _calendar(session, clock).occurrences(
            clock.now() - timedelta(hours=3), clock.now() + timedelta(days=2)
        )

    assert [(i.due_at.astimezone(SHANGHAI).day, i.state) for i in items] == [
        (23, "missed"),
        (24, "planned"),
        (25, "planned"),
    ]
    assert {d.status for d in items[0].deliveries} == {"missed"}
    assert [d.planned for d in items[1].deliveries] == [True, True]


def test_estimate_counts_what_is_already_waiting_for_the_robot(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 10, robot="ops")
    due = clock.now() + timedelta(minutes=5)
    post_id = add_post(factory, clock, Targets(tags=("会员",)), at=due)
    with factory.begin() as session:
        post = session.get(Post, post_id)
        assert post is not None
        alone = _calendar(session, clock, per_minute=5).planned_finish(post, due)
        backlog = [
            OutboxDraft(f"x{i}", "wecom_robot", "ops", "早到的消息", rate_bucket="robot:ops")
            for i in range(7)
        ]
        enqueue(session, backlog, now=clock.now())
        behind = _calendar(session, clock, per_minute=5).planned_finish(post, due)

    assert alone == due + timedelta(minutes=1)  # 10 messages at 5 a minute
    assert behind == due + timedelta(minutes=3)  # 17 messages at 5 a minute


def test_finish_of_an_enqueued_blast_is_the_last_send_once_done(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 3)
    add_post(factory, clock, Targets(tags=("会员",)), at=clock.now())
    enqueue_due_posts(JobContext(runtime.deps, make_config()))
    clock.advance(seconds=42)
    runtime.outbox.drain()

    with factory() as session:
        [item] = _calendar(session, clock).occurrences(
            clock.now() - timedelta(hours=1), clock.now() + timedelta(hours=1)
        )

    assert item.state == "enqueued"
    assert {d.status for d in item.deliveries} == {"sent"}
    assert item.expected_finish_at == clock.now()
