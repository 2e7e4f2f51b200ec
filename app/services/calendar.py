"""The content calendar: occurrences in a date range and each one's delivery status per group.

Read-only; the admin API and CLI call it inside their transaction. Past occurrences come from
`post_occurrences`/`post_deliveries` with their status read from the outbox (the single source
of truth for delivery); future ones are computed from each post's schedule and shown as planned.
Also estimates when a blast finishes, given the group robots' per-minute limit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Chat, OutboxRow, Post, PostDelivery, PostOccurrence, RateEvent
from app.outbox import RATE_WINDOW
from app.senders.split import split_text
from app.services.posts import (
    ChatDirectory,
    ChatInfo,
    DeliveryNotes,
    RobotKeys,
    Route,
    Targets,
    byte_limit,
    parse_content,
    render,
    route_for,
)
from app.services.recurrence import Schedule, fire_times

# When one delivery has several outbox rows (a split text), the most telling status wins.
STATUS_PRECEDENCE = ("dead", "failed", "queued", "awaiting_confirmation", "missed", "sent")
OUTBOX_TO_DELIVERY = {"sending": "queued"}
PLANNED_STATES = {"scheduled": "planned", "paused": "paused", "draft": "draft"}
CALENDAR_POST_STATUSES = ("scheduled", "paused", "draft", "submitted")
MAX_RANGE = timedelta(days=92)
MAX_FIRES_PER_POST = 500
_CHUNK = 500
_UNSENT = ("queued", "failed", "sending")


def combine(statuses: Iterable[str]) -> str:
    """One delivery status from the statuses of its outbox rows."""
    present = {OUTBOX_TO_DELIVERY.get(s, s) for s in statuses}
    return next((s for s in STATUS_PRECEDENCE if s in present), "queued")


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """One occurrence for one chat. `planned` means it is not in the outbox yet."""

    chat_pk: int
    chat_id: str
    platform: str
    chat_name: str | None
    channel: str
    due_at: datetime
    status: str
    planned: bool
    note: str | None = None
    outbox_ids: tuple[int, ...] = ()
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OccurrenceView:
    """A post at one fire time. state: planned, draft, submitted, paused, enqueued, missed."""

    post_id: int
    title: str | None
    source: str
    post_status: str
    due_at: datetime
    state: str
    deliveries: tuple[DeliveryView, ...]
    expected_finish_at: datetime | None


@dataclass(frozen=True, slots=True)
class _OutboxInfo:
    id: int
    status: str
    note: str | None
    sent_at: datetime | None
    bucket: str | None


class CalendarService:
    """Occurrences and deliveries as admins see them; one instance per transaction."""

    def __init__(
        self,
        session: Session,
        *,
        tz: tzinfo,
        now: datetime,
        robots: RobotKeys,
        notes: DeliveryNotes,
        per_minute: int,
    ) -> None:
        self._session = session
        self._tz = tz
        self._now = now
        self._robots = robots
        self._notes = notes
        self._per_minute = per_minute
        self._chats = ChatDirectory(session)

    # -- one post ---------------------------------------------------------------------------
    def post_deliveries(self, post: Post, *, upcoming: int = 1) -> list[DeliveryView]:
        """Every delivery of a post so far, then its next `upcoming` occurrences as planned."""
        rows = self._session.execute(
            select(PostDelivery, Chat)
            .join(Chat, Chat.id == PostDelivery.chat_id)
            .where(PostDelivery.post_id == post.id)
            .order_by(PostDelivery.due_at, PostDelivery.chat_id)
        ).all()
        done = self._views([(d, c) for d, c in rows])
        planned: list[DeliveryView] = []
        if post.status == "scheduled" and post.next_due_at is not None and upcoming > 0:
            schedule = Schedule.from_dict(post.schedule)
            end = post.next_due_at + timedelta(days=3660)
            for due in fire_times(schedule, post.next_due_at, end, self._tz, limit=upcoming):
                planned += self._planned(post, due)
        return done + planned

    def next_finish(self, post: Post) -> datetime | None:
        """When the post's next occurrence should have reached every target (an estimate)."""
        if post.status != "scheduled" or post.next_due_at is None:
            return None
        return self.planned_finish(post, post.next_due_at)

    # -- the calendar -----------------------------------------------------------------------
    def occurrences(self, start: datetime, end: datetime) -> list[OccurrenceView]:
        """Occurrences with due time in [start, end), oldest first (past and planned)."""
        if end <= start:
            raise ValueError("the range must end after it starts")
        if end - start > MAX_RANGE:
            raise ValueError(f"the range may span at most {MAX_RANGE.days} days")
        views = self._handled(start, end) + self._upcoming(start, end)
        return sorted(views, key=lambda v: (v.due_at, v.post_id))

    def _handled(self, start: datetime, end: datetime) -> list[OccurrenceView]:
        rows = self._session.execute(
            select(PostOccurrence, Post)
            .join(Post, Post.id == PostOccurrence.post_id)
            .where(PostOccurrence.due_at >= start, PostOccurrence.due_at < end)
        ).all()
        ids = [occurrence.id for occurrence, _ in rows]
        by_occurrence: dict[int, list[tuple[PostDelivery, Chat]]] = {i: [] for i in ids}
        for chunk in _chunks(ids):
            for delivery, chat in self._session.execute(
                select(PostDelivery, Chat)
                .join(Chat, Chat.id == PostDelivery.chat_id)
                .where(PostDelivery.occurrence_id.in_(chunk))
                .order_by(PostDelivery.chat_id)
            ).all():
                by_occurrence[delivery.occurrence_id].append((delivery, chat))
        result: list[OccurrenceView] = []
        for occurrence, post in rows:
            deliveries = tuple(self._views(by_occurrence[occurrence.id]))
            result.append(
                OccurrenceView(
                    post_id=post.id,
                    title=post.title,
                    source=post.source,
                    post_status=post.status,
                    due_at=occurrence.due_at,
                    state=occurrence.status,
                    deliveries=deliveries,
                    expected_finish_at=self._enqueued_finish(occurrence.due_at, deliveries),
                )
            )
        return result

    def _upcoming(self, start: datetime, end: datetime) -> list[OccurrenceView]:
        posts = self._session.scalars(
            select(Post).where(Post.status.in_(CALENDAR_POST_STATUSES)).order_by(Post.id)
        ).all()
        result: list[OccurrenceView] = []
        for post in posts:
            first = max(start, self._now)
            if post.status == "scheduled":
                if post.next_due_at is None:
                    continue
                first = max(start, post.next_due_at)
            schedule = Schedule.from_dict(post.schedule)
            for due in fire_times(schedule, first, end, self._tz, limit=MAX_FIRES_PER_POST):
                result.append(self._planned_occurrence(post, due))
        return result

    def _planned_occurrence(self, post: Post, due: datetime) -> OccurrenceView:
        return OccurrenceView(
            post_id=post.id,
            title=post.title,
            source=post.source,
            post_status=post.status,
            due_at=due,
            state=PLANNED_STATES.get(post.status, post.status),
            deliveries=tuple(self._planned(post, due)),
            expected_finish_at=self.planned_finish(post, due),
        )

    # -- deliveries ---------------------------------------------------------------------------
    def _routes(self, post: Post) -> list[tuple[ChatInfo, Route]]:
        chats = self._chats.resolve(Targets.from_dict(post.targets))
        return [(chat, route_for(chat, self._robots, self._notes)) for chat in chats]

    def _planned(self, post: Post, due: datetime) -> list[DeliveryView]:
        return [
            DeliveryView(
                chat_pk=chat.id,
                chat_id=chat.external_id,
                platform=chat.platform,
                chat_name=chat.name,
                channel=route.channel,
                due_at=due,
                status=route.status,
                planned=True,
                note=route.note,
            )
            for chat, route in self._routes(post)
        ]

    def _views(self, pairs: Sequence[tuple[PostDelivery, Chat]]) -> list[DeliveryView]:
        outbox = self._outbox([key for delivery, _ in pairs for key in delivery.keys])
        views: list[DeliveryView] = []
        for delivery, chat in pairs:
            infos = [outbox[key] for key in delivery.keys if key in outbox]
            sent = [i.sent_at for i in infos if i.sent_at is not None]
            views.append(
                DeliveryView(
                    chat_pk=chat.id,
                    chat_id=chat.external_id,
                    platform=chat.platform,
                    chat_name=chat.name,
                    channel=delivery.channel,
                    due_at=delivery.due_at,
                    status=combine(i.status for i in infos),
                    planned=False,
                    note=next((i.note for i in infos if i.note), None),
                    outbox_ids=tuple(i.id for i in infos),
                    sent_at=max(sent) if sent and len(sent) == len(infos) else None,
                )
            )
        return views

    def _outbox(self, keys: Sequence[str]) -> dict[str, _OutboxInfo]:
        found: dict[str, _OutboxInfo] = {}
        for chunk in _chunks(keys):
            for row in self._session.execute(
                select(
                    OutboxRow.idempotency_key,
                    OutboxRow.id,
                    OutboxRow.status,
                    OutboxRow.last_error,
                    OutboxRow.sent_at,
                    OutboxRow.rate_bucket,
                ).where(OutboxRow.idempotency_key.in_(chunk))
            ).all():
                found[row[0]] = _OutboxInfo(row[1], row[2], row[3], row[4], row[5])
        return found

    # -- expected finish ----------------------------------------------------------------------
    def planned_finish(self, post: Post, due: datetime) -> datetime:
        """Due time plus the minutes the robots' per-minute limit needs for this blast."""
        content = parse_content(post.content)
        per_bucket: Counter[str] = Counter()
        for _chat, route in self._routes(post):
            if route.robot is None or route.status != "queued":
                continue
            rendered = render(content, route.channel)
            limit = byte_limit(route.channel, rendered.kind)
            parts = len(split_text(rendered.text, limit)) if limit else 1
            per_bucket[f"robot:{route.robot[0]}"] += parts
        return self._finish(due, per_bucket, include_waiting=True)

    def _enqueued_finish(
        self, due: datetime, deliveries: Sequence[DeliveryView]
    ) -> datetime | None:
        if not deliveries:
            return None
        if all(d.status == "sent" for d in deliveries):
            sent = [d.sent_at for d in deliveries if d.sent_at is not None]
            return max(sent) if sent else None
        ids = [i for d in deliveries if d.status in ("queued", "failed") for i in d.outbox_ids]
        per_bucket = self._unsent_buckets(ids)
        return self._finish(due, per_bucket, include_waiting=False)

    def _unsent_buckets(self, outbox_ids: Sequence[int]) -> Counter[str]:
        """Per robot bucket: how many unsent rows up to and including our last one."""
        ours: dict[str, int] = {}
        for chunk in _chunks(outbox_ids):
            for bucket, last in self._session.execute(
                select(OutboxRow.rate_bucket, func.max(OutboxRow.id))
                .where(OutboxRow.id.in_(chunk), OutboxRow.rate_bucket.is_not(None))
                .where(OutboxRow.status.in_(_UNSENT))
                .group_by(OutboxRow.rate_bucket)
            ).all():
                ours[str(bucket)] = int(last)
        counts: Counter[str] = Counter()
        for bucket, last in ours.items():
            counts[bucket] = int(
                self._session.scalar(
                    select(func.count())
                    .select_from(OutboxRow)
                    .where(OutboxRow.rate_bucket == bucket, OutboxRow.id <= last)
                    .where(OutboxRow.status.in_(_UNSENT))
                )
                or 0
            )
        return counts

    def _finish(
        self, due: datetime, per_bucket: Mapping[str, int], *, include_waiting: bool
    ) -> datetime:
        start = max(due, self._now)
        finish = start
        for bucket, count in per_bucket.items():
            total = count + self._recently_used(bucket, start)
            if include_waiting:
                total += self._waiting(bucket, due)
            windows = max(total - 1, 0) // self._per_minute
            finish = max(finish, start + windows * RATE_WINDOW)
        return finish

    def _waiting(self, bucket: str, due: datetime) -> int:
        """Unsent rows already queued in the bucket (they go out before a later blast)."""
        return int(
            self._session.scalar(
                select(func.count())
                .select_from(OutboxRow)
                .where(OutboxRow.rate_bucket == bucket, OutboxRow.status.in_(_UNSENT))
                .where(OutboxRow.next_attempt_at <= due)
            )
            or 0
        )

    def _recently_used(self, bucket: str, start: datetime) -> int:
        """Sends still inside the bucket's window when the blast starts."""
        if start - self._now >= RATE_WINDOW:
            return 0
        return int(
            self._session.scalar(
                select(func.count())
                .select_from(RateEvent)
                .where(RateEvent.bucket == bucket, RateEvent.at > start - RATE_WINDOW)
            )
            or 0
        )


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
