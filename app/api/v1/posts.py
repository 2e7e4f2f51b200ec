"""Admin: scheduled posts — create, edit (with history), review, pause, cancel, preview, and
each post's deliveries per group.

Every request is one transaction. Approval schedules a post; the scheduler process
(`qunyun scheduler`) turns each fire time into outbox rows. WeCom customer groups (platform
wecom_app) cannot be posted to by any API: their deliveries are `awaiting_confirmation`, a 群发
task a staff member confirms in WeCom (then `POST …/deliveries/{id}/confirm` records it).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.api.deps import RuntimeDep, SessionDep
from app.api.v1.schemas import iso
from app.db.models import Chat, OutboxRow, Post, PostDelivery
from app.jobs.registry import SchedulerConfig, load_scheduler_config
from app.messages import ChatRef, Platform
from app.runtime import Runtime
from app.services.calendar import CalendarService, DeliveryView
from app.services.members import MembersService
from app.services.posts import (
    ChatDirectory,
    PostDraft,
    PostNotFound,
    PostsService,
    PostStateError,
    Targets,
    parse_content,
    preview,
    route_for,
)
from app.services.recurrence import DayFilter, Schedule, holiday_data_covers, make_schedule

router = APIRouter(tags=["posts"])
PLATFORMS = "^(bridge|wecom_app|wecom_bot|console)$"
Name = Annotated[str, Field(min_length=1, max_length=64)]
Url = Annotated[str, Field(pattern="^https?://", max_length=2048)]
Text = Annotated[str, Field(min_length=1, max_length=8000)]


@lru_cache
def get_scheduler_config() -> SchedulerConfig:
    return load_scheduler_config()


ConfigDep = Annotated[SchedulerConfig, Depends(get_scheduler_config)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextContent(_Strict):
    type: Literal["text", "markdown"]
    text: Text


class ImageContent(_Strict):
    type: Literal["image"]
    url: Url
    text: Annotated[str | None, Field(max_length=512)] = None  # caption


class ArticleIn(_Strict):
    title: Annotated[str, Field(min_length=1, max_length=128)]
    url: Url
    description: Annotated[str | None, Field(max_length=512)] = None
    picurl: Url | None = None


class LinkContent(ArticleIn):
    type: Literal["link"]


class NewsContent(_Strict):
    type: Literal["news"]
    articles: Annotated[list[ArticleIn], Field(min_length=1, max_length=8)]


Content = Annotated[
    TextContent | ImageContent | LinkContent | NewsContent, Field(discriminator="type")
]


class TargetsIn(_Strict):
    """Groups by the channel's own chat ids (on `platform`), and/or every group with a tag."""

    chat_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=128)]], Field(max_length=1000)
    ] = []
    platform: Annotated[str, Field(pattern=PLATFORMS)] = "bridge"
    tags: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=32)]], Field(max_length=20)
    ] = []

    @model_validator(mode="after")
    def _some_target(self) -> TargetsIn:
        if not self.chat_ids and not self.tags:
            raise ValueError("targets need chat_ids or tags")
        return self


class ScheduleIn(_Strict):
    """Exactly one of at / cron / rrule; naive times are the community's local time."""

    at: datetime | None = None
    cron: Annotated[str | None, Field(max_length=120)] = None
    rrule: Annotated[str | None, Field(max_length=500)] = None
    start: datetime | None = None
    until: datetime | None = None
    days: Literal["all", "skip_holidays", "workdays"] = "all"


class PostIn(_Strict):
    title: Annotated[str | None, Field(max_length=128)] = None
    content: Content
    targets: TargetsIn
    schedule: ScheduleIn
    # The channel of targets.chat_ids when targets.platform is not given (SPEC: default bridge).
    platform: Annotated[str | None, Field(pattern=PLATFORMS)] = None
    submit: bool = False
    by: Name | None = None

    def resolved_targets(self) -> TargetsIn:
        if self.platform and "platform" not in self.targets.model_fields_set:
            return self.targets.model_copy(update={"platform": self.platform})
        return self.targets


class PostEdit(_Strict):
    """Fields to change; omitted ones keep their value. The post returns to draft."""

    title: Annotated[str | None, Field(max_length=128)] = None
    content: Content | None = None
    targets: TargetsIn | None = None
    schedule: ScheduleIn | None = None
    by: Name | None = None


class ActionIn(_Strict):
    by: Name | None = None
    note: Annotated[str | None, Field(max_length=500)] = None


# -- helpers --------------------------------------------------------------------------------
def _posts(session: Session, runtime: Runtime, config: SchedulerConfig) -> PostsService:
    return PostsService(
        session, tz=runtime.settings.tz, now=runtime.deps.clock.now(), grace=config.grace
    )


def calendar_service(
    session: Session, runtime: Runtime, config: SchedulerConfig
) -> CalendarService:
    return CalendarService(
        session,
        tz=runtime.settings.tz,
        now=runtime.deps.clock.now(),
        robots=config.robot_keys(),
        notes=config.texts.notes(),
        per_minute=runtime.settings.outbox.robot_messages_per_minute,
    )


def _bad(error: Exception) -> HTTPException:
    if isinstance(error, PostNotFound):
        return HTTPException(404, detail="no such post")
    if isinstance(error, PostStateError):
        return HTTPException(409, detail=str(error))
    return HTTPException(422, detail=str(error))


def resolve_targets(session: Session, runtime: Runtime, body: TargetsIn) -> Targets:
    """Chat ids → chats.id; a chat not seen yet is registered (SPEC: an admin may register)."""
    members = MembersService(session)
    now = runtime.deps.clock.now()
    pks = [
        members.ensure_chat(ChatRef(Platform(body.platform), chat_id, True), now=now)
        for chat_id in dict.fromkeys(body.chat_ids)
    ]
    return Targets(tuple(pks), tuple(dict.fromkeys(body.tags)))


def _schedule(runtime: Runtime, body: ScheduleIn) -> Schedule:
    return make_schedule(
        tz=runtime.settings.tz,
        now=runtime.deps.clock.now(),
        at=body.at,
        cron=body.cron,
        rule=body.rrule,
        start=body.start,
        until=body.until,
        days=body.days,
    )


def _draft(
    session: Session,
    runtime: Runtime,
    title: str | None,
    content: Content,
    targets: TargetsIn,
    schedule: ScheduleIn,
) -> PostDraft:
    try:
        parsed_schedule = _schedule(runtime, schedule)
        parsed_content = parse_content(content.model_dump(exclude_none=True))
    except ValueError as error:
        raise HTTPException(422, detail=str(error)) from None
    return PostDraft(
        parsed_content, resolve_targets(session, runtime, targets), parsed_schedule, title
    )


def schedule_out(data: dict[str, Any], runtime: Runtime) -> dict[str, Any]:
    schedule = Schedule.from_dict(data)
    out: dict[str, Any] = {"kind": schedule.kind, "days": str(schedule.days)}
    for name in ("at", "start", "until"):
        value: datetime | None = getattr(schedule, name)
        if value is not None:
            out[name] = iso(value, runtime.settings.tz)
    if schedule.cron:
        out["cron"] = schedule.cron
    if schedule.rrule:
        out["rrule"] = schedule.rrule
    return out


def _target_chats(session: Session, post: Post) -> list[Chat]:
    pks = Targets.from_dict(post.targets).chat_pks
    return (
        list(session.scalars(select(Chat).where(Chat.id.in_(pks)).order_by(Chat.id)))
        if pks
        else []
    )


def post_out(
    session: Session, post: Post, runtime: Runtime, config: SchedulerConfig
) -> dict[str, Any]:
    tz = runtime.settings.tz
    chats = _target_chats(session, post)
    calendar = calendar_service(session, runtime, config)
    return {
        "id": post.id,
        "title": post.title,
        "status": post.status,
        "source": post.source,
        "version": post.version,
        "content": post.content,
        "targets": {
            "chat_ids": [c.external_id for c in chats],
            "chats": [
                {"platform": c.platform, "chat_id": c.external_id, "name": c.name} for c in chats
            ],
            "tags": post.targets.get("tags", []),
        },
        "schedule": schedule_out(post.schedule, runtime),
        "next_due_at": iso(post.next_due_at, tz),
        "expected_finish_at": iso(calendar.next_finish(post), tz),
        "warnings": _warnings(session, post, config),
        "created_by": post.created_by,
        "approved_by": post.approved_by,
        "created_at": iso(post.created_at, tz),
        "updated_at": iso(post.updated_at, tz),
        "approved_at": iso(post.approved_at, tz),
    }


def _warnings(session: Session, post: Post, config: SchedulerConfig) -> list[str]:
    notes = config.texts.notes()
    chats = ChatDirectory(session).resolve(Targets.from_dict(post.targets))
    found: dict[str, None] = {}
    for chat in chats:
        route = route_for(chat, config.robot_keys(), notes)
        if route.note:
            found[f"{chat.external_id}: {route.note}"] = None
    if not chats:
        found["no group matches the targets yet"] = None
    schedule = Schedule.from_dict(post.schedule)
    first = post.next_due_at or schedule.at or schedule.start
    if schedule.days != DayFilter.ALL and first and not holiday_data_covers(first.date()):
        found[f"no holiday data for {first.year} yet: upgrade chinese-calendar"] = None
    return list(found)


def delivery_out(view: DeliveryView, runtime: Runtime) -> dict[str, Any]:
    return {
        "chat_id": view.chat_id,
        "platform": view.platform,
        "chat_name": view.chat_name,
        "due_at": iso(view.due_at, runtime.settings.tz),
        "status": view.status,
        "planned": view.planned,
        "channel": view.channel,
        "note": view.note,
        "outbox_ids": list(view.outbox_ids),
        "sent_at": iso(view.sent_at, runtime.settings.tz),
    }


# -- routes ---------------------------------------------------------------------------------
@router.post("/posts")
def create_post(
    body: PostIn, session: SessionDep, runtime: RuntimeDep, config: ConfigDep
) -> dict[str, Any]:
    """Create a post in draft (or submitted, with `submit: true`); an admin approves it."""
    targets = body.resolved_targets()
    draft = _draft(session, runtime, body.title, body.content, targets, body.schedule)
    try:
        post = _posts(session, runtime, config).create(draft, actor=body.by, submit=body.submit)
    except (ValueError, PostStateError) as error:
        raise _bad(error) from None
    return post_out(session, post, runtime, config)


@router.get("/posts")
def list_posts(
    session: SessionDep,
    runtime: RuntimeDep,
    config: ConfigDep,
    status: Annotated[
        str | None, Query(pattern="^(draft|submitted|scheduled|paused|cancelled|done)$")
    ] = None,
    source: Annotated[str | None, Query(max_length=80)] = None,
) -> dict[str, Any]:
    posts = _posts(session, runtime, config).list_posts(status=status, source=source)
    return {"items": [post_out(session, post, runtime, config) for post in posts]}


@router.get("/posts/{post_id}")
def get_post(
    post_id: int, session: SessionDep, runtime: RuntimeDep, config: ConfigDep
) -> dict[str, Any]:
    try:
        post = _posts(session, runtime, config).get(post_id)
    except PostNotFound as error:
        raise _bad(error) from None
    return post_out(session, post, runtime, config)


@router.patch("/posts/{post_id}")
def edit_post(
    post_id: int, body: PostEdit, session: SessionDep, runtime: RuntimeDep, config: ConfigDep
) -> dict[str, Any]:
    """Edit a post (recorded in its history); an approved post needs approval again."""
    service = _posts(session, runtime, config)
    try:
        post = service.get(post_id)
    except PostNotFound as error:
        raise _bad(error) from None
    current = _current_inputs(session, post, runtime)
    draft = _draft(
        session,
        runtime,
        body.title if "title" in body.model_fields_set else post.title,
        body.content or current[0],
        body.targets or current[1],
        body.schedule or current[2],
    )
    try:
        post = service.edit(post_id, draft, actor=body.by)
    except (ValueError, PostStateError) as error:
        raise _bad(error) from None
    return post_out(session, post, runtime, config)


def _current_inputs(
    session: Session, post: Post, runtime: Runtime
) -> tuple[Content, TargetsIn, ScheduleIn]:
    content: Content = TypeAdapter(Content).validate_python(post.content)
    chats = _target_chats(session, post)
    platforms = {c.platform for c in chats} or {"bridge"}
    if len(platforms) > 1:
        raise HTTPException(422, detail="targets span platforms; give targets explicitly")
    targets = TargetsIn(
        chat_ids=[c.external_id for c in chats],
        platform=platforms.pop(),
        tags=list(post.targets.get("tags", [])),
    )
    stored = Schedule.from_dict(post.schedule)
    schedule = ScheduleIn(
        at=stored.at,
        cron=stored.cron,
        rrule=stored.rrule,
        start=stored.start,
        until=stored.until,
        days=stored.days.value,
    )
    return content, targets, schedule


def _action(
    post_id: int,
    action: str,
    body: ActionIn | None,
    session: Session,
    runtime: Runtime,
    config: SchedulerConfig,
) -> dict[str, Any]:
    service = _posts(session, runtime, config)
    actor = body.by if body else None
    try:
        match action:
            case "submit":
                post = service.submit(post_id, actor=actor)
            case "approve":
                post = service.approve(post_id, actor=actor)
            case "pause":
                post = service.pause(post_id, actor=actor)
            case "resume":
                post = service.resume(post_id, actor=actor)
            case _:
                service.cancel(post_id, actor=actor, note=body.note if body else None)
                post = service.get(post_id)
    except (PostNotFound, PostStateError) as error:
        raise _bad(error) from None
    return post_out(session, post, runtime, config)


@router.post("/posts/{post_id}/submit")
def submit_post(
    post_id: int,
    session: SessionDep,
    runtime: RuntimeDep,
    config: ConfigDep,
    body: ActionIn | None = None,
) -> dict[str, Any]:
    """Submit a draft for review."""
    return _action(post_id, "submit", body, session, runtime, config)


@router.post("/posts/{post_id}/approve")
def approve_post(
    post_id: int,
    session: SessionDep,
    runtime: RuntimeDep,
    config: ConfigDep,
    body: ActionIn | None = None,
) -> dict[str, Any]:
    """Approve a draft or submitted post: it is scheduled (`expected_finish_at` estimates when
    its next occurrence reaches every group, given the robots' 20-a-minute limit)."""
    return _action(post_id, "approve", body, session, runtime, config)


@router.post("/posts/{post_id}/pause")
def pause_post(
    post_id: int,
    session: SessionDep,
    runtime: RuntimeDep,
    config: ConfigDep,
    body: ActionIn | None = None,
) -> dict[str, Any]:
    return _action(post_id, "pause", body, session, runtime, config)


@router.post("/posts/{post_id}/resume")
def resume_post(
    post_id: int,
    session: SessionDep,
    runtime: RuntimeDep,
    config: ConfigDep,
    body: ActionIn | None = None,
) -> dict[str, Any]:
    """Resume a paused post; fire times that passed while paused are skipped."""
    return _action(post_id, "resume", body, session, runtime, config)


@router.post("/posts/{post_id}/cancel")
def cancel_post(
    post_id: int,
    session: SessionDep,
    runtime: RuntimeDep,
    config: ConfigDep,
    body: ActionIn | None = None,
) -> dict[str, Any]:
    """Cancel a post; deliveries not yet handed to a channel are withdrawn."""
    return _action(post_id, "cancel", body, session, runtime, config)


@router.get("/posts/{post_id}/revisions")
def post_revisions(
    post_id: int, session: SessionDep, runtime: RuntimeDep, config: ConfigDep
) -> dict[str, Any]:
    try:
        revisions = _posts(session, runtime, config).history(post_id)
    except PostNotFound as error:
        raise _bad(error) from None
    tz = runtime.settings.tz
    return {
        "items": [
            {
                "version": r.version,
                "action": r.action,
                "by": r.actor,
                "at": iso(r.at, tz),
                "note": r.note,
                "snapshot": r.snapshot,
            }
            for r in revisions
        ]
    }


@router.get("/posts/{post_id}/preview")
def preview_post(
    post_id: int, session: SessionDep, runtime: RuntimeDep, config: ConfigDep
) -> dict[str, Any]:
    """The message as each channel renders it, with its size against the byte limits."""
    try:
        post = _posts(session, runtime, config).get(post_id)
    except PostNotFound as error:
        raise _bad(error) from None
    channels = preview(parse_content(post.content))
    return {
        "channels": [
            {
                "channel": c.channel,
                "warnings": list(c.warnings),
                "messages": [
                    {
                        "kind": m.kind,
                        "text": m.text,
                        "bytes": m.bytes,
                        "limit": m.limit,
                        "parts": m.parts,
                    }
                    for m in c.messages
                ],
            }
            for c in channels
        ],
        "expected_finish_at": iso(
            calendar_service(session, runtime, config).next_finish(post), runtime.settings.tz
        ),
        "warnings": _warnings(session, post, config),
    }


@router.get("/posts/{post_id}/deliveries")
def post_deliveries(
    post_id: int,
    session: SessionDep,
    runtime: RuntimeDep,
    config: ConfigDep,
    upcoming: Annotated[int, Query(ge=0, le=50)] = 1,
) -> dict[str, Any]:
    """Each occurrence × group: `status` is queued, sent, failed, dead, missed or
    awaiting_confirmation (a customer group's staff-confirmed 群发 task); `planned` marks the
    next `upcoming` occurrences that are not in the outbox yet."""
    try:
        post = _posts(session, runtime, config).get(post_id)
    except PostNotFound as error:
        raise _bad(error) from None
    views = calendar_service(session, runtime, config).post_deliveries(post, upcoming=upcoming)
    return {"items": [delivery_out(view, runtime) for view in views]}


@router.post("/posts/{post_id}/deliveries/{outbox_id}/confirm")
def confirm_delivery(
    post_id: int, outbox_id: int, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """A staff member confirmed the 群发 task in WeCom: record the delivery as sent."""
    keys = [
        key
        for keys in session.scalars(
            select(PostDelivery.keys).where(PostDelivery.post_id == post_id)
        )
        for key in keys
    ]
    row = session.get(OutboxRow, outbox_id)
    if row is None or row.idempotency_key not in keys:
        raise HTTPException(404, detail="no such delivery for this post")
    result = session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == outbox_id, OutboxRow.status == "awaiting_confirmation")
        .values(status="sent", sent_at=runtime.deps.clock.now())
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise HTTPException(409, detail="only a delivery awaiting confirmation can be confirmed")
    return {"id": outbox_id, "status": "sent"}
