"""Scheduled posts: content, targets, the review flow, history, and how a post looks per channel.

Called by the admin API and CLI inside their transaction (create, edit, submit, approve, pause,
resume, cancel — each writes a `post_revisions` row) and by the scheduler's enqueue job, which
uses `route_for` and `drafts_for` to turn an occurrence for one chat into outbox rows. Review
flow: draft → submitted → scheduled (approved); editing an approved post sends it back to draft,
so nothing reaches a group that an admin has not approved in its current form.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from app.db.models import Chat, OutboxRow, Post, PostDelivery, PostRevision
from app.messages import ChatRef, Outgoing, Platform
from app.outbox import OutboxDraft
from app.routing import draft_for
from app.senders.split import (
    APP_MESSAGE_MAX_BYTES,
    ROBOT_MARKDOWN_MAX_BYTES,
    ROBOT_TEXT_MAX_BYTES,
    split_text,
    utf8_len,
)
from app.services.recurrence import DayFilter, Schedule, make_schedule, next_fire
from app.settings import get_settings

CONTENT_TYPES = ("text", "markdown", "image", "link", "news")
EDITABLE = frozenset({"draft", "submitted", "scheduled", "paused"})
APPROVABLE = frozenset({"draft", "submitted"})
NEWS_TITLE_MAX_BYTES = 128
NEWS_DESCRIPTION_MAX_BYTES = 512
NEWS_MAX_ARTICLES = 8
TEXT_MAX_CHARS = 8000


class PostNotFound(LookupError):
    """No post with that id."""


class PostStateError(Exception):
    """The action is not allowed in the post's current status (the API answers 409)."""


# -- content -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Article:
    title: str
    url: str
    description: str = ""
    picurl: str = ""

    def to_dict(self) -> dict[str, str]:
        data = {"title": self.title, "url": self.url}
        if self.description:
            data["description"] = self.description
        if self.picurl:
            data["picurl"] = self.picurl
        return data


@dataclass(frozen=True, slots=True)
class PostContent:
    """What a post says. text/markdown use `text`; image `url` + `text` (caption); link one
    article; news 1–8 articles."""

    type: str
    text: str = ""
    url: str = ""
    articles: tuple[Article, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        if self.type in ("text", "markdown", "image"):
            data["text"] = self.text
        if self.type == "image":
            data["url"] = self.url
        if self.type == "link":
            data.update(self.articles[0].to_dict())
        if self.type == "news":
            data["articles"] = [article.to_dict() for article in self.articles]
        return data


def parse_content(data: Mapping[str, Any]) -> PostContent:
    """Validate content from the API, CLI or the database; ValueError names the problem."""
    kind = data.get("type")
    if kind not in CONTENT_TYPES:
        raise ValueError(f"content.type must be one of {', '.join(CONTENT_TYPES)}")
    if kind in ("text", "markdown"):
        return PostContent(kind, text=_text(data.get("text"), "content.text"))
    if kind == "image":
        caption = str(data.get("text") or data.get("caption") or "").strip()
        return PostContent(kind, text=caption, url=_url(data.get("url"), "content.url"))
    if kind == "link":
        return PostContent(kind, articles=(_article(data, "content"),))
    raw = data.get("articles")
    if not isinstance(raw, list) or not 1 <= len(raw) <= NEWS_MAX_ARTICLES:
        raise ValueError(f"content.articles must be a list of 1–{NEWS_MAX_ARTICLES} articles")
    return PostContent(
        kind,
        articles=tuple(_article(item, f"content.articles[{i}]") for i, item in enumerate(raw)),
    )


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where} must be a non-empty string")
    if len(value) > TEXT_MAX_CHARS:
        raise ValueError(f"{where} is longer than {TEXT_MAX_CHARS} characters")
    return value.strip()


def _url(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ValueError(f"{where} must be an http(s) URL")
    return value


def _article(item: object, where: str) -> Article:
    if not isinstance(item, Mapping):
        raise ValueError(f"{where} must be an object with title and url")
    return Article(
        title=_text(item.get("title"), f"{where}.title"),
        url=_url(item.get("url"), f"{where}.url"),
        description=str(item.get("description") or ""),
        picurl=_url(item["picurl"], f"{where}.picurl") if item.get("picurl") else "",
    )


# -- rendering per channel -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Rendered:
    """A post as one channel sends it: kind "text", "markdown" or "news" (robot cards)."""

    kind: str
    text: str
    articles: tuple[Article, ...] = ()


def render(content: PostContent, channel: str) -> Rendered:
    """How `content` is sent on `channel`; only group robots show news cards."""
    if content.type in ("text", "markdown"):
        return Rendered(content.type, content.text)
    if channel == "wecom_robot":
        if content.type == "image":
            card = Article(title=content.text or "图片", url=content.url, picurl=content.url)
            return Rendered("news", card.title, (card,))
        return Rendered("news", content.articles[0].title, content.articles)
    if content.type == "image":
        return Rendered("text", "\n".join(p for p in (content.text, content.url) if p))
    blocks = ["\n".join(p for p in (a.title, a.description, a.url) if p) for a in content.articles]
    return Rendered("text", "\n\n".join(blocks))


def byte_limit(channel: str, kind: str) -> int | None:
    """The per-message byte limit a channel imposes on this kind, if any."""
    if channel == "wecom_robot":
        return {"text": ROBOT_TEXT_MAX_BYTES, "markdown": ROBOT_MARKDOWN_MAX_BYTES}.get(kind)
    if channel == "wecom_app":
        return APP_MESSAGE_MAX_BYTES
    return None


# -- routes: which channel reaches a chat ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class RobotKeys:
    """Robot name (chats.robot) → the environment variable holding its webhook key."""

    env_names: Mapping[str, str] = field(default_factory=dict)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def lookup(self, name: str) -> tuple[str | None, str | None]:
        """(webhook key, None) or (None, why there is none)."""
        env_name = self.env_names.get(name)
        if env_name is None:
            return None, f"群机器人 {name} 未在 config/scheduler.toml 的 [robots] 中配置"
        key = self.environ.get(env_name, "").strip()
        if not key:
            return None, f"群机器人 {name} 的 webhook key 未设置（环境变量 {env_name}）"
        return key, None


@dataclass(frozen=True, slots=True)
class DeliveryNotes:
    """Admin-facing notes written on delivery rows that cannot be sent by an API."""

    awaiting_confirmation: str = "客户群只能由员工确认群发任务后发送"
    bot_cannot_post: str = "智能机器人只能回复消息，不能主动发帖；请为该群绑定群机器人"


@dataclass(frozen=True, slots=True)
class Route:
    """How one chat is reached: a channel, the status its rows start in, an optional robot."""

    channel: str
    status: str = "queued"
    note: str | None = None
    robot: tuple[str, str] | None = None


def route_for(chat: AnyChat, robots: RobotKeys, notes: DeliveryNotes) -> Route:
    """The channel for a scheduled post to `chat` (a bound group robot wins)."""
    if chat.robot:
        key, problem = robots.lookup(chat.robot)
        if key is None:
            return Route("wecom_robot", status="dead", note=problem)
        return Route("wecom_robot", robot=(chat.robot, key))
    if chat.platform == Platform.WECOM_APP and chat.is_group:
        # WeCom customer groups: only a 群发 task that a staff member confirms can post there.
        return Route("wecom_app", status="awaiting_confirmation", note=notes.awaiting_confirmation)
    if chat.platform == Platform.WECOM_BOT:
        return Route("wecom_bot", status="dead", note=notes.bot_cannot_post)
    if chat.platform in (Platform.BRIDGE, Platform.WECOM_APP):
        return Route(str(chat.platform))
    return Route("console")


def delivery_key(post_id: int, due_at: datetime, chat_pk: int) -> str:
    """The outbox idempotency key of one occurrence of a post for one chat."""
    return f"post:{post_id}:{due_at.astimezone(UTC):%Y%m%dT%H%M%SZ}:{chat_pk}"


def drafts_for(
    content: PostContent,
    chat: AnyChat,
    route: Route,
    *,
    key: str,
    now: datetime,
    status: str | None = None,
    note: str | None = None,
) -> list[OutboxDraft]:
    """Outbox rows for one chat (robot texts are split to the byte limit, one row a part)."""
    rendered = render(content, route.channel)
    if rendered.kind == "news" and route.robot is not None:
        drafts = [_robot_news(rendered, chat, route.robot, key)]
    else:
        outgoing = Outgoing(_chat_ref(chat), rendered.text, format=rendered.kind)
        drafts = draft_for(outgoing, key=key, chat_pk=chat.id, now=now, robot=route.robot)
    final_status = status or route.status
    final_note = note if status else route.note
    return [
        d
        if (d.status, d.note, d.not_before) == (final_status, final_note, None)
        else replace(d, status=final_status, note=final_note, not_before=None)
        for d in drafts
    ]


def _robot_news(
    rendered: Rendered, chat: AnyChat, robot: tuple[str, str], key: str
) -> OutboxDraft:
    name, webhook_key = robot
    articles = json.dumps([a.to_dict() for a in rendered.articles], ensure_ascii=False)
    return OutboxDraft(
        key=key,
        channel="wecom_robot",
        target=name,
        text=rendered.text,
        kind="news",
        extras={"robot_key": webhook_key, "articles": articles},
        chat_pk=chat.id,
        rate_bucket=f"robot:{name}",
    )


def _chat_ref(chat: AnyChat) -> ChatRef:
    try:
        platform = Platform(chat.platform)
    except ValueError:
        platform = Platform.CONSOLE
    return ChatRef(platform, chat.external_id, chat.is_group, chat.name)


# -- targets --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Targets:
    """Explicit chats (chats.id) and chat tags; a tag means every group carrying it."""

    chat_pks: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"chat_pks": list(self.chat_pks), "tags": list(self.tags)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Targets:
        return cls(
            tuple(int(pk) for pk in data.get("chat_pks", ())),
            tuple(str(tag) for tag in data.get("tags", ())),
        )


@dataclass(frozen=True, slots=True)
class ChatInfo:
    """The columns of a chat that routing needs (cheaper than ORM objects in bulk)."""

    id: int
    platform: str
    external_id: str
    name: str | None
    is_group: bool
    tags: tuple[str, ...]
    robot: str | None


AnyChat = Chat | ChatInfo
_CHAT_COLUMNS = (
    Chat.id,
    Chat.platform,
    Chat.external_id,
    Chat.name,
    Chat.is_group,
    Chat.tags,
    Chat.robot,
)


class ChatDirectory:
    """Chats loaded once per transaction (only those asked for), to resolve many posts'
    targets cheaply."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._chats: dict[int, ChatInfo] = {}
        self._all_groups = False

    def prefetch(self, many: Iterable[Targets]) -> None:
        """Load the chats these targets need in a few queries."""
        pks: set[int] = set()
        tagged = False
        for targets in many:
            pks.update(targets.chat_pks)
            tagged = tagged or bool(targets.tags)
        if tagged and not self._all_groups:
            self._load(Chat.is_group.is_(True))
            self._all_groups = True
        missing = sorted(pks - self._chats.keys())
        for start in range(0, len(missing), 500):
            self._load(Chat.id.in_(missing[start : start + 500]))

    def resolve(self, targets: Targets) -> list[ChatInfo]:
        """The target chats, each once, ordered by id."""
        self.prefetch([targets])
        wanted = {pk for pk in targets.chat_pks if pk in self._chats}
        if targets.tags:
            tags = set(targets.tags)
            wanted |= {c.id for c in self._chats.values() if c.is_group and tags & set(c.tags)}
        return [self._chats[pk] for pk in sorted(wanted)]

    def _load(self, where: ColumnElement[bool]) -> None:
        for row in self._session.execute(select(*_CHAT_COLUMNS).where(where)).all():
            self._chats[row.id] = ChatInfo(
                row.id,
                row.platform,
                row.external_id,
                row.name,
                row.is_group,
                tuple(row.tags or ()),
                row.robot,
            )


# -- the review flow ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PostDraft:
    """Everything an admin gives when creating or editing a post (already validated)."""

    content: PostContent
    targets: Targets
    schedule: Schedule
    title: str | None = None


class PostsService:
    """Create, review and change posts; every change is one `post_revisions` row."""

    def __init__(self, session: Session, *, tz: tzinfo, now: datetime, grace: timedelta) -> None:
        self._session = session
        self._tz = tz
        self._now = now
        self._grace = grace

    def get(self, post_id: int) -> Post:
        post = self._session.get(Post, post_id)
        if post is None:
            raise PostNotFound(post_id)
        return post

    def list_posts(
        self, *, status: str | None = None, source: str | None = None
    ) -> Sequence[Post]:
        stmt = select(Post).order_by(Post.id)
        if status is not None:
            stmt = stmt.where(Post.status == status)
        if source is not None:
            stmt = stmt.where(Post.source == source)
        return self._session.scalars(stmt).all()

    def history(self, post_id: int) -> Sequence[PostRevision]:
        self.get(post_id)
        return self._session.scalars(
            select(PostRevision).where(PostRevision.post_id == post_id).order_by(PostRevision.id)
        ).all()

    def create(
        self, draft: PostDraft, *, actor: str | None, source: str = "admin", submit: bool = False
    ) -> Post:
        """A new post in draft (or submitted) status."""
        self._check_not_past(draft.schedule)
        post = Post(
            title=draft.title,
            content_type=draft.content.type,
            content=draft.content.to_dict(),
            targets=draft.targets.to_dict(),
            schedule=draft.schedule.to_dict(),
            status="draft",
            source=source,
            version=1,
            created_by=actor,
            created_at=self._now,
            updated_at=self._now,
        )
        self._session.add(post)
        self._session.flush()
        self._record(post, "created", actor)
        if submit:
            self.submit(post.id, actor=actor)
        return post

    def edit(self, post_id: int, draft: PostDraft, *, actor: str | None) -> Post:
        """Change a post; an approved or submitted one goes back to draft for review."""
        post = self._require(post_id, EDITABLE, "edit")
        self._check_not_past(draft.schedule)
        post.title = draft.title
        post.content_type = draft.content.type
        post.content = draft.content.to_dict()
        post.targets = draft.targets.to_dict()
        post.schedule = draft.schedule.to_dict()
        post.version += 1
        self._set_status(post, "draft")
        self._record(post, "edited", actor)
        return post

    def submit(self, post_id: int, *, actor: str | None) -> Post:
        post = self._require(post_id, frozenset({"draft"}), "submit")
        self._set_status(post, "submitted")
        self._record(post, "submitted", actor)
        return post

    def approve(self, post_id: int, *, actor: str | None) -> Post:
        """Approve a draft or submitted post: it is scheduled from its next fire time."""
        post = self._require(post_id, APPROVABLE, "approve")
        due = self.first_due(post)
        if due is None:
            raise PostStateError("the post's time has passed; edit its schedule first")
        post.approved_by, post.approved_at = actor, self._now
        self._set_status(post, "scheduled", next_due_at=due)
        self._record(post, "approved", actor)
        return post

    def pause(self, post_id: int, *, actor: str | None) -> Post:
        post = self._require(post_id, frozenset({"scheduled"}), "pause")
        self._set_status(post, "paused")
        self._record(post, "paused", actor)
        return post

    def resume(self, post_id: int, *, actor: str | None) -> Post:
        """Schedule a paused post again; fire times that passed while paused are skipped."""
        post = self._require(post_id, frozenset({"paused"}), "resume")
        due = self.first_due(post)
        if due is None:
            raise PostStateError("the post's time has passed while paused; edit its schedule")
        self._set_status(post, "scheduled", next_due_at=due)
        self._record(post, "resumed", actor)
        return post

    def cancel(self, post_id: int, *, actor: str | None, note: str | None = None) -> int:
        """Cancel a post and any delivery not yet handed to a channel; returns that count."""
        post = self._require(post_id, EDITABLE, "cancel")
        self._set_status(post, "cancelled")
        self._record(post, "cancelled", actor, note=note)
        return self._withdraw_unsent(post.id, note or "cancelled")

    def first_due(self, post: Post) -> datetime | None:
        """The first fire time from now on (a one-off within the grace window still counts)."""
        schedule = Schedule.from_dict(post.schedule)
        if not schedule.recurring:
            assert schedule.at is not None
            return schedule.at if schedule.at >= self._now - self._grace else None
        return next_fire(schedule, self._now, self._tz)

    def record(self, post: Post, action: str, actor: str | None, note: str | None = None) -> None:
        """Append a history entry (used by the scheduler and campaigns too)."""
        self._record(post, action, actor, note=note)

    # -- helpers ----------------------------------------------------------------------------
    def _require(self, post_id: int, allowed: Iterable[str], action: str) -> Post:
        post = self.get(post_id)
        allowed = frozenset(allowed)
        if post.status not in allowed:
            raise PostStateError(
                f"cannot {action} a post that is {post.status} "
                f"(allowed from: {', '.join(sorted(allowed))})"
            )
        return post

    def _check_not_past(self, schedule: Schedule) -> None:
        if schedule.at is not None and schedule.at < self._now - self._grace:
            raise ValueError("schedule.at is in the past")

    def _set_status(self, post: Post, status: str, *, next_due_at: datetime | None = None) -> None:
        post.status = status
        post.next_due_at = next_due_at
        post.updated_at = self._now

    def _record(self, post: Post, action: str, actor: str | None, note: str | None = None) -> None:
        self._session.add(
            PostRevision(
                post_id=post.id,
                version=post.version,
                action=action,
                actor=actor,
                snapshot=snapshot(post),
                note=note,
                at=self._now,
            )
        )

    def _withdraw_unsent(self, post_id: int, note: str) -> int:
        keys = [
            key
            for keys in self._session.scalars(
                select(PostDelivery.keys).where(PostDelivery.post_id == post_id)
            )
            for key in keys
        ]
        withdrawn = 0
        for start in range(0, len(keys), 500):
            result = self._session.execute(
                update(OutboxRow)
                .where(OutboxRow.idempotency_key.in_(keys[start : start + 500]))
                .where(OutboxRow.status.in_(("queued", "failed", "awaiting_confirmation")))
                .values(status="dead", last_error=note)
            )
            withdrawn += int(result.rowcount)  # type: ignore[attr-defined]
        return withdrawn


def snapshot(post: Post) -> dict[str, Any]:
    """The post's reviewable state, as stored in its history."""
    return {
        "title": post.title,
        "status": post.status,
        "content": post.content,
        "targets": post.targets,
        "schedule": post.schedule,
    }


# -- preview --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PreviewMessage:
    kind: str
    text: str
    bytes: int
    limit: int | None
    parts: int


@dataclass(frozen=True, slots=True)
class ChannelPreview:
    channel: str
    messages: tuple[PreviewMessage, ...]
    warnings: tuple[str, ...] = ()


PREVIEW_CHANNELS = ("bridge", "wecom_robot", "wecom_app")


def preview(
    content: PostContent, channels: Iterable[str] = PREVIEW_CHANNELS
) -> list[ChannelPreview]:
    """The rendered message per channel with its size against the channel's byte limit."""
    return [_preview_one(content, channel) for channel in dict.fromkeys(channels)]


def _preview_one(content: PostContent, channel: str) -> ChannelPreview:
    rendered = render(content, channel)
    warnings: list[str] = []
    if rendered.kind == "news":
        for index, article in enumerate(rendered.articles):
            if utf8_len(article.title) > NEWS_TITLE_MAX_BYTES:
                warnings.append(f"article {index}: title over {NEWS_TITLE_MAX_BYTES} bytes")
            if utf8_len(article.description) > NEWS_DESCRIPTION_MAX_BYTES:
                warnings.append(
                    f"article {index}: description over {NEWS_DESCRIPTION_MAX_BYTES} bytes"
                )
        message = PreviewMessage("news", rendered.text, utf8_len(rendered.text), None, 1)
        return ChannelPreview(channel, (message,), tuple(warnings))
    limit = byte_limit(channel, rendered.kind)
    size = utf8_len(rendered.text)
    parts = len(split_text(rendered.text, limit)) if limit else 1
    if parts > 1:
        warnings.append(f"{size} bytes is over the {limit}-byte limit: sent as {parts} messages")
    message = PreviewMessage(rendered.kind, rendered.text, size, limit, parts)
    return ChannelPreview(channel, (message,), tuple(warnings))


# -- demo data --------------------------------------------------------------------------------
DEMO_POSTS = (
    (
        "每周花卉知识",
        "0 9 * * 1",
        "🌿 每周花卉知识：冬季绿萝一周浇一次水，放在散射光处即可。",
        True,
    ),
    ("每月促销", "0 10 1 * *", "🎉 每月会员日：全场鲜花 8 折，积分可抵现！", False),
)


def seed_demo_posts(session: Session) -> None:
    """`qunyun demo`: a content calendar for the demo groups (idempotent, by title)."""
    tz = get_settings().tz
    now = datetime.now(UTC)
    chats = session.scalars(
        select(Chat.id).where(Chat.platform == "bridge", Chat.external_id.in_(("g-001", "g-002")))
    ).all()
    existing = set(session.scalars(select(Post.title).where(Post.source == "admin")))
    posts = PostsService(session, tz=tz, now=now, grace=timedelta(0))
    for title, cron, text, approved in DEMO_POSTS:
        if title in existing or not chats:
            continue
        schedule = make_schedule(tz=tz, now=now, cron=cron, days=DayFilter.SKIP_HOLIDAYS)
        draft = PostDraft(PostContent("text", text=text), Targets(tuple(chats)), schedule, title)
        post = posts.create(draft, actor="demo", submit=not approved)
        if approved:
            posts.approve(post.id, actor="demo")
