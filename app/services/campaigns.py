"""Campaign announcements: templates with offsets (T-24h, T-1h, at start, before end, at end).

A campaign (the check-in campaign, a flash sale, any admin-declared event) calls
`CampaignAnnouncements.sync` inside its own transaction whenever it is created or its times
change. Each template becomes one approved one-off post (source "campaign:<key>") delivered by
the scheduler like any other post; a later sync moves the announcements that have not gone out
yet, cancels those whose template was dropped, and leaves sent ones alone as history.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Campaign, CampaignAnnouncement, Post
from app.services.posts import PostContent, PostsService, Targets, snapshot
from app.services.recurrence import Schedule

Anchor = Literal["start", "end"]
_OFFSET = re.compile(r"^([+-]?)(\d{1,5})([dhms]?)$")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 60}
_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def parse_offset(text: str) -> timedelta:
    """ "-24h", "-1h", "0", "-30m", "+2d" → a timedelta (a bare number is minutes)."""
    match = _OFFSET.match(text.strip())
    if match is None:
        raise ValueError(f"offset {text!r} must look like -24h, -1h, -30m, 0 or +1d")
    sign, amount, unit = match.groups()
    seconds = int(amount) * _UNITS[unit]
    return timedelta(seconds=-seconds if sign == "-" else seconds)


@dataclass(frozen=True, slots=True)
class AnnouncementTemplate:
    """One announcement of a campaign, `offset` from its start or end.

    `text` may use {name}, {starts_at} and {ends_at} (local time, e.g. 12月1日 09:00).
    """

    key: str
    anchor: Anchor
    offset: timedelta
    text: str
    format: str = "text"  # "text" | "markdown"

    def due(self, starts_at: datetime, ends_at: datetime) -> datetime:
        return (starts_at if self.anchor == "start" else ends_at) + self.offset


@dataclass(frozen=True, slots=True)
class SyncedAnnouncement:
    """What sync did with one template: created, moved, unchanged, sent, skipped, cancelled."""

    key: str
    due_at: datetime
    post_id: int | None
    outcome: str


def local_label(at: datetime, tz: tzinfo) -> str:
    """12月1日 09:00 — how announcements name a time."""
    local = at.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


class CampaignAnnouncements:
    """Keeps a campaign's announcement posts in step with its templates and times."""

    ACTOR_PREFIX = "campaign:"

    @classmethod
    def sync(
        cls,
        session: Session,
        campaign_key: str,
        starts_at: datetime,
        ends_at: datetime,
        templates: Sequence[AnnouncementTemplate],
        chat_pks: Sequence[int],
        *,
        now: datetime,
        tz: tzinfo,
        name: str | None = None,
        tags: Sequence[str] = (),
    ) -> list[SyncedAnnouncement]:
        """(Re)create the campaign's pending announcements; returns one entry per template."""
        _check(campaign_key, starts_at, ends_at, templates)
        campaign = _upsert_campaign(session, campaign_key, name, starts_at, ends_at, now)
        syncer = _Syncer(session, campaign, Targets(tuple(chat_pks), tuple(tags)), now, tz)
        results = [syncer.apply(template) for template in templates]
        syncer.drop_missing({t.key for t in templates})
        return results

    @staticmethod
    def announcements(
        session: Session, campaign_key: str
    ) -> list[tuple[CampaignAnnouncement, Post]]:
        """A campaign's announcements with their posts, by due time."""
        rows = session.execute(
            select(CampaignAnnouncement, Post)
            .join(Campaign, Campaign.id == CampaignAnnouncement.campaign_id)
            .join(Post, Post.id == CampaignAnnouncement.post_id)
            .where(Campaign.key == campaign_key)
            .order_by(Post.id)
        ).all()
        return [(a, p) for a, p in rows]


def _check(
    key: str, starts_at: datetime, ends_at: datetime, templates: Sequence[AnnouncementTemplate]
) -> None:
    if not _KEY.match(key):
        raise ValueError("campaign key: 1–64 letters, digits, _ . : -")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("campaign times must be timezone-aware")
    if ends_at <= starts_at:
        raise ValueError("a campaign must end after it starts")
    keys = [t.key for t in templates]
    if len(set(keys)) != len(keys):
        raise ValueError("announcement template keys must be unique")
    for template in templates:
        if not _KEY.match(template.key) or template.anchor not in ("start", "end"):
            raise ValueError(f"bad announcement template {template.key!r}")
        if template.format not in ("text", "markdown") or not template.text.strip():
            raise ValueError(f"announcement {template.key!r} needs a text or markdown body")
        try:
            template.text.format_map({"name": "", "starts_at": "", "ends_at": ""})
        except (KeyError, ValueError, IndexError):
            raise ValueError(
                f"announcement {template.key!r}: only {{name}}, {{starts_at}} and {{ends_at}} "
                "may appear in braces"
            ) from None


def _upsert_campaign(
    session: Session, key: str, name: str | None, starts: datetime, ends: datetime, now: datetime
) -> Campaign:
    campaign = session.scalar(select(Campaign).where(Campaign.key == key).with_for_update())
    if campaign is None:
        campaign = Campaign(key=key, name=name or key, created_at=now, starts_at=starts)
        session.add(campaign)
    campaign.name = name or campaign.name
    campaign.starts_at, campaign.ends_at, campaign.updated_at = starts, ends, now
    session.flush()
    return campaign


class _Syncer:
    def __init__(
        self, session: Session, campaign: Campaign, targets: Targets, now: datetime, tz: tzinfo
    ) -> None:
        self._session = session
        self._campaign = campaign
        self._targets = targets
        self._now = now
        self._tz = tz
        self._actor = f"{CampaignAnnouncements.ACTOR_PREFIX}{campaign.key}"
        self._posts = PostsService(session, tz=tz, now=now, grace=timedelta(0))
        self._existing = {
            a.template_key: a
            for a in session.scalars(
                select(CampaignAnnouncement).where(CampaignAnnouncement.campaign_id == campaign.id)
            ).all()
        }

    def apply(self, template: AnnouncementTemplate) -> SyncedAnnouncement:
        due = template.due(self._campaign.starts_at, self._campaign.ends_at)
        row = self._existing.get(template.key)
        if row is None:
            if due < self._now:
                return SyncedAnnouncement(template.key, due, None, "skipped")
            post = self._create(template, due)
            self._session.add(
                CampaignAnnouncement(
                    campaign_id=self._campaign.id,
                    template_key=template.key,
                    anchor=template.anchor,
                    offset_seconds=int(template.offset.total_seconds()),
                    post_id=post.id,
                )
            )
            return SyncedAnnouncement(template.key, due, post.id, "created")
        row.anchor, row.offset_seconds = template.anchor, int(template.offset.total_seconds())
        return self._update(self._locked(row.post_id), template, due)

    def drop_missing(self, keep: set[str]) -> None:
        for key, row in self._existing.items():
            post = self._locked(row.post_id)
            if key not in keep and post.status == "scheduled":
                self._posts.cancel(post.id, actor=self._actor, note="template removed")

    def _locked(self, post_id: int) -> Post:
        # The enqueue job may be handing this post to the outbox right now: wait for it.
        post = self._session.get(Post, post_id, with_for_update=True, populate_existing=True)
        assert post is not None
        return post

    def _create(self, template: AnnouncementTemplate, due: datetime) -> Post:
        post = Post(
            title=f"{self._campaign.name} · {template.key}",
            content_type=template.format,
            content=self._content(template).to_dict(),
            targets=self._targets.to_dict(),
            schedule=Schedule(kind="once", at=due).to_dict(),
            status="scheduled",
            source=self._actor,
            version=1,
            next_due_at=due,
            created_by=self._actor,
            approved_by=self._actor,
            created_at=self._now,
            updated_at=self._now,
            approved_at=self._now,
        )
        self._session.add(post)
        self._session.flush()
        self._posts.record(post, "created", self._actor)
        return post

    def _update(
        self, post: Post, template: AnnouncementTemplate, due: datetime
    ) -> SyncedAnnouncement:
        if post.status not in ("scheduled", "cancelled"):
            return SyncedAnnouncement(template.key, due, post.id, "sent")
        if due < self._now:
            if post.status == "scheduled":
                self._posts.cancel(post.id, actor=self._actor, note="campaign moved; time passed")
            return SyncedAnnouncement(template.key, due, post.id, "cancelled")
        before = snapshot(post)
        post.content_type = template.format
        post.content = self._content(template).to_dict()
        post.targets = self._targets.to_dict()
        post.schedule = Schedule(kind="once", at=due).to_dict()
        revived = post.status == "cancelled"
        moved = post.next_due_at != due
        post.status, post.next_due_at, post.updated_at = "scheduled", due, self._now
        if before == snapshot(post):
            return SyncedAnnouncement(template.key, due, post.id, "unchanged")
        post.version += 1
        self._posts.record(post, "moved" if moved or revived else "edited", self._actor)
        return SyncedAnnouncement(template.key, due, post.id, "moved" if moved else "edited")

    def _content(self, template: AnnouncementTemplate) -> PostContent:
        text = template.text.format_map(
            {
                "name": self._campaign.name,
                "starts_at": local_label(self._campaign.starts_at, self._tz),
                "ends_at": local_label(self._campaign.ends_at, self._tz),
            }
        )
        return PostContent(template.format, text=text)
