"""Turn due posts into outbox rows: one occurrence per (post, fire time), one row per group.

Runs every `tick_seconds` in the scheduler process (and once at start, to catch up). Each pass
claims due posts (`FOR UPDATE SKIP LOCKED`; SQLite has one writer) and, in the same
transaction, inserts the occurrence, a delivery per target chat and its outbox rows — all three
behind unique keys, so a second scheduler, a retried pass or a restart never enqueues twice.
A fire time found later than the grace window is not sent: its occurrence and rows are marked
`missed` and the admins' chat is told. Sending is the outbox dispatcher's job (retries, the
robot window, dead letters).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Row, insert, select, update
from sqlalchemy.orm import Session

from app.db.models import Chat, Post, PostDelivery, PostOccurrence, PostRevision
from app.db.upsert import insert_ignore
from app.jobs.registry import JobContext, JobSpec
from app.messages import ChatRef, Platform
from app.outbox import OutboxDraft, enqueue
from app.services.campaigns import local_label
from app.services.members import MembersService
from app.services.posts import (
    ChatDirectory,
    ChatInfo,
    PostContent,
    Route,
    Targets,
    delivery_key,
    drafts_for,
    parse_content,
    route_for,
)
from app.services.recurrence import Schedule, next_fire

log = logging.getLogger(__name__)
ACTOR = "scheduler"
_CHUNK = 500
MAX_BATCHES_PER_RUN = 10_000


@dataclass
class EnqueueReport:
    """What one run did (also what the benchmark measures)."""

    posts: int = 0
    occurrences: int = 0
    deliveries: int = 0
    outbox_rows: int = 0
    missed: int = 0
    finished: int = 0
    missed_posts: dict[int, list[datetime]] = field(default_factory=dict)

    def add(self, other: EnqueueReport) -> None:
        self.posts += other.posts
        self.occurrences += other.occurrences
        self.deliveries += other.deliveries
        self.outbox_rows += other.outbox_rows
        self.missed += other.missed
        self.finished += other.finished
        for post_id, dues in other.missed_posts.items():
            self.missed_posts.setdefault(post_id, []).extend(dues)


def enqueue_due_posts(ctx: JobContext) -> EnqueueReport:
    """Enqueue everything due now, batch by batch, then alert about missed occurrences."""
    total = EnqueueReport()
    for _ in range(MAX_BATCHES_PER_RUN):
        with ctx.factory() as session, session.begin():
            batch = enqueue_batch(session, ctx, now=ctx.now())
        total.add(batch)
        if batch.outbox_rows:
            ctx.on_enqueued()
        if batch.posts < ctx.config.batch_size:
            break
    if total.missed_posts:
        alert_missed(ctx, total.missed_posts)
    return total


def enqueue_batch(session: Session, ctx: JobContext, *, now: datetime) -> EnqueueReport:
    """One transaction: claim up to batch_size due posts and enqueue their occurrences."""
    posts = {
        row.id: row
        for row in session.execute(
            select(*_POST_COLUMNS)
            .where(Post.status == "scheduled", Post.next_due_at <= now)
            .order_by(Post.next_due_at, Post.id)
            .limit(ctx.config.batch_size)
            .with_for_update(skip_locked=True)
        ).all()
    }
    report = EnqueueReport(posts=len(posts))
    planned: list[dict[str, object]] = []
    cursors: list[dict[str, object]] = []
    for post in posts.values():
        fires, cursor = _fires_until(post, ctx, now)
        planned += [_occurrence_row(post.id, due, ctx, now) for due in fires]
        cursors.append(
            {
                "id": post.id,
                "next_due_at": cursor,
                "updated_at": now,
                "status": "scheduled" if cursor else "done",
            }
        )
    _move_cursors(session, posts, cursors, now, report)
    inserted = insert_ignore(
        session, PostOccurrence, planned, ["post_id", "due_at"], PostOccurrence.id
    )
    report.occurrences = len(inserted)
    if inserted:
        _deliver(session, ctx, posts, sorted(inserted), now, report)
    return report


_POST_COLUMNS = (
    Post.id,
    Post.title,
    Post.content,
    Post.targets,
    Post.schedule,
    Post.next_due_at,
    Post.version,
)


def _fires_until(
    post: Row[Any], ctx: JobContext, now: datetime
) -> tuple[list[datetime], datetime | None]:
    """The post's fire times up to now (bounded), and its next cursor."""
    schedule = Schedule.from_dict(post.schedule)
    due: datetime | None = post.next_due_at
    fires: list[datetime] = []
    while due is not None and due <= now and len(fires) < ctx.config.max_catch_up:
        fires.append(due)
        due = next_fire(schedule, due, ctx.tz, inclusive=False) if schedule.recurring else None
    return fires, due


def _occurrence_row(
    post_id: int, due: datetime, ctx: JobContext, now: datetime
) -> dict[str, object]:
    missed = now - due > ctx.config.grace
    return {
        "post_id": post_id,
        "due_at": due,
        "status": "missed" if missed else "enqueued",
        "created_at": now,
    }


def _move_cursors(
    session: Session,
    posts: dict[int, Row[Any]],
    cursors: list[dict[str, object]],
    now: datetime,
    report: EnqueueReport,
) -> None:
    """Advance every claimed post; finished ones become done, with a history entry."""
    if not cursors:
        return
    session.execute(update(Post), cursors)  # bulk UPDATE by primary key
    done = [posts[int(str(c["id"]))] for c in cursors if c["status"] == "done"]
    report.finished = len(done)
    if done:
        session.execute(
            insert(PostRevision),
            [
                {
                    "post_id": post.id,
                    "version": post.version,
                    "action": "done",
                    "actor": ACTOR,
                    "snapshot": {
                        "title": post.title,
                        "status": "done",
                        "content": post.content,
                        "targets": post.targets,
                        "schedule": post.schedule,
                    },
                    "at": now,
                }
                for post in done
            ],
        )


def _deliver(
    session: Session,
    ctx: JobContext,
    posts: dict[int, Row[Any]],
    occurrence_ids: Sequence[int],
    now: datetime,
    report: EnqueueReport,
) -> None:
    """Delivery rows and outbox rows for newly inserted occurrences."""
    chats = ChatDirectory(session)
    routes: dict[int, Route] = {}
    robots, notes = ctx.config.robot_keys(), ctx.config.texts.notes()
    deliveries: list[dict[str, object]] = []
    drafts: list[OutboxDraft] = []
    occurrences = _load(session, occurrence_ids)
    chats.prefetch(Targets.from_dict(posts[o.post_id].targets) for o in occurrences)
    for occurrence in occurrences:
        post = posts[occurrence.post_id]
        content = parse_content(post.content)
        missed = occurrence.status == "missed"
        if missed:
            report.missed += 1
            report.missed_posts.setdefault(post.id, []).append(occurrence.due_at)
        for chat in chats.resolve(Targets.from_dict(post.targets)):
            route = routes.setdefault(chat.id, route_for(chat, robots, notes))
            chat_drafts = _chat_drafts(ctx, content, chat, route, occurrence, now, missed)
            deliveries.append(_delivery_row(occurrence, chat, route, chat_drafts))
            drafts += chat_drafts
    report.deliveries = len(_insert_deliveries(session, deliveries))
    for start in range(0, len(drafts), _CHUNK):
        report.outbox_rows += len(enqueue(session, drafts[start : start + _CHUNK], now=now))


def _chat_drafts(
    ctx: JobContext,
    content: PostContent,
    chat: ChatInfo,
    route: Route,
    occurrence: Row[Any],
    now: datetime,
    missed: bool,
) -> list[OutboxDraft]:
    key = delivery_key(occurrence.post_id, occurrence.due_at, chat.id)
    if missed:
        note = ctx.config.texts.missed_note
        return drafts_for(content, chat, route, key=key, now=now, status="missed", note=note)
    return drafts_for(content, chat, route, key=key, now=now)


def _delivery_row(
    occurrence: Row[Any], chat: ChatInfo, route: Route, drafts: Sequence[OutboxDraft]
) -> dict[str, object]:
    return {
        "occurrence_id": occurrence.id,
        "post_id": occurrence.post_id,
        "chat_id": chat.id,
        "channel": route.channel,
        "keys": [d.key for d in drafts],
        "due_at": occurrence.due_at,
    }


def _load(session: Session, ids: Sequence[int]) -> list[Row[Any]]:
    found: list[Row[Any]] = []
    for start in range(0, len(ids), _CHUNK):
        found.extend(
            session.execute(
                select(
                    PostOccurrence.id,
                    PostOccurrence.post_id,
                    PostOccurrence.due_at,
                    PostOccurrence.status,
                )
                .where(PostOccurrence.id.in_(ids[start : start + _CHUNK]))
                .order_by(PostOccurrence.id)
            )
        )
    return found


def _insert_deliveries(session: Session, rows: Sequence[dict[str, object]]) -> set[int]:
    inserted: set[int] = set()
    for start in range(0, len(rows), _CHUNK):
        inserted |= insert_ignore(
            session,
            PostDelivery,
            list(rows[start : start + _CHUNK]),
            ["occurrence_id", "chat_id"],
            PostDelivery.id,
        )
    return inserted


# -- the admins' chat ------------------------------------------------------------------------
def post_to_admins(session: Session, ctx: JobContext, *, key: str, text: str) -> bool:
    """Queue a message to the admins' report chat; False when none is configured."""
    report = ctx.config.report
    if not report.chat_id:
        log.warning("no admins' chat configured", extra={"key": key})
        return False
    now = ctx.now()
    ref = ChatRef(Platform(report.chat_platform), report.chat_id, True)
    chat_pk = MembersService(session).ensure_chat(ref, now=now)
    chat = session.get(Chat, chat_pk)
    assert chat is not None
    route = route_for(chat, ctx.config.robot_keys(), ctx.config.texts.notes())
    drafts = drafts_for(PostContent("text", text=text), chat, route, key=key, now=now)
    return bool(enqueue(session, drafts, now=now))


def alert_missed(ctx: JobContext, missed: dict[int, list[datetime]]) -> None:
    """One alert per post whose occurrences were missed (visible, and logged)."""
    grace_minutes = round(ctx.config.grace_seconds / 60)
    with ctx.factory() as session, session.begin():
        for post_id, dues in sorted(missed.items()):
            post = session.get(Post, post_id)
            title = (post.title if post else None) or f"#{post_id}"
            log.warning("post occurrences missed", extra={"post_id": post_id, "count": len(dues)})
            text = ctx.config.texts.missed_alert.format_map(
                {
                    "title": title,
                    "due_at": local_label(min(dues), ctx.tz),
                    "count": len(dues),
                    "grace": grace_minutes,
                }
            )
            key = f"alert:missed:{post_id}:{min(dues).timestamp():.0f}"
            post_to_admins(session, ctx, key=key, text=text)
    ctx.on_enqueued()


SPEC = JobSpec(
    id="posts.enqueue_due",
    run=enqueue_due_posts,
    trigger=lambda config, tz: IntervalTrigger(seconds=config.tick_seconds, timezone=tz),
    description="Enqueue due scheduled posts and campaign announcements into the outbox",
    run_at_start=True,
    misfire_grace_seconds=60,
)
