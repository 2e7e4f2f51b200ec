"""Admin: the content calendar (week/month view data) and campaign announcements.

`GET /calendar` lists occurrences in a date range with each one's delivery status per group;
`PUT /calendar/campaigns/{key}` declares a campaign's times and announcement templates (or the
defaults from config/scheduler.toml) and moves its pending announcements when the times change.
Read-only except for that PUT, which writes campaigns, posts and their history.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import RuntimeDep, SessionDep
from app.api.v1.posts import (
    ConfigDep,
    TargetsIn,
    calendar_service,
    delivery_out,
    resolve_targets,
)
from app.api.v1.schemas import iso
from app.runtime import Runtime
from app.services.calendar import OccurrenceView
from app.services.campaigns import AnnouncementTemplate, CampaignAnnouncements, parse_offset

router = APIRouter(tags=["calendar"])
View = Literal["week", "month"]


def _range(
    view: View | None, day: date | None, start: date | None, end: date | None, runtime: Runtime
) -> tuple[date, date]:
    if start is not None or end is not None:
        if start is None or end is None:
            raise HTTPException(422, detail="give both start and end (dates, end exclusive)")
        return start, end
    today = day or runtime.deps.clock.now().astimezone(runtime.settings.tz).date()
    if view == "month":
        first = today.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return first, following
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=7)


def _occurrence_out(view: OccurrenceView, runtime: Runtime) -> dict[str, Any]:
    return {
        "post_id": view.post_id,
        "title": view.title,
        "source": view.source,
        "post_status": view.post_status,
        "due_at": iso(view.due_at, runtime.settings.tz),
        "state": view.state,
        "expected_finish_at": iso(view.expected_finish_at, runtime.settings.tz),
        "deliveries": [delivery_out(d, runtime) for d in view.deliveries],
    }


@router.get("/calendar")
def calendar(
    session: SessionDep,
    runtime: RuntimeDep,
    config: ConfigDep,
    view: View | None = None,
    day: Annotated[date | None, Query(alias="date")] = None,
    start: date | None = None,
    end: date | None = None,
) -> dict[str, Any]:
    """Occurrences from `start` to `end` (local dates, end exclusive), or the week/month
    around `date` (default: this week). Each item carries its deliveries per group."""
    first, last = _range(view, day, start, end, runtime)
    tz = runtime.settings.tz
    begin = datetime.combine(first, time(), tz).astimezone(UTC)
    finish = datetime.combine(last, time(), tz).astimezone(UTC)
    try:
        items = calendar_service(session, runtime, config).occurrences(begin, finish)
    except ValueError as error:
        raise HTTPException(422, detail=str(error)) from None
    return {
        "timezone": runtime.settings.timezone,
        "start": first.isoformat(),
        "end": last.isoformat(),
        "items": [_occurrence_out(item, runtime) for item in items],
    }


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, Field(pattern="^[A-Za-z0-9_.:-]{1,64}$")]
    anchor: Literal["start", "end"]
    offset: Annotated[str, Field(max_length=12)]
    text: Annotated[str, Field(min_length=1, max_length=4000)]
    format: Literal["text", "markdown"] = "text"


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=128)]
    starts_at: datetime
    ends_at: datetime
    targets: TargetsIn
    announcements: Annotated[list[TemplateIn] | None, Field(max_length=20)] = None


@router.put("/calendar/campaigns/{key}")
def sync_campaign(
    key: Annotated[str, Field(pattern="^[A-Za-z0-9_.:-]{1,64}$")],
    body: CampaignIn,
    session: SessionDep,
    runtime: RuntimeDep,
    config: ConfigDep,
) -> dict[str, Any]:
    """Declare a campaign's window and announcements; changing its times moves the
    announcements that have not gone out yet. Without `announcements` the defaults apply."""
    tz = runtime.settings.tz
    try:
        templates = (
            _templates(body.announcements)
            if body.announcements is not None
            else (config.announcement_templates())
        )
        starts = body.starts_at if body.starts_at.tzinfo else body.starts_at.replace(tzinfo=tz)
        ends = body.ends_at if body.ends_at.tzinfo else body.ends_at.replace(tzinfo=tz)
        targets = resolve_targets(session, runtime, body.targets)
        results = CampaignAnnouncements.sync(
            session,
            key,
            starts,
            ends,
            templates,
            targets.chat_pks,
            now=runtime.deps.clock.now(),
            tz=tz,
            name=body.name,
            tags=targets.tags,
        )
    except ValueError as error:
        raise HTTPException(422, detail=str(error)) from None
    return {
        "key": key,
        "name": body.name,
        "starts_at": iso(starts, tz),
        "ends_at": iso(ends, tz),
        "announcements": [
            {"key": r.key, "due_at": iso(r.due_at, tz), "post_id": r.post_id, "outcome": r.outcome}
            for r in results
        ],
    }


def _templates(items: list[TemplateIn]) -> list[AnnouncementTemplate]:
    return [
        AnnouncementTemplate(
            key=t.key, anchor=t.anchor, offset=parse_offset(t.offset), text=t.text, format=t.format
        )
        for t in items
    ]


@router.get("/calendar/campaigns/{key}")
def get_campaign(key: str, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    """A campaign's announcements and the status of each one's post."""
    rows = CampaignAnnouncements.announcements(session, key)
    if not rows:
        raise HTTPException(404, detail="no such campaign (or it has no announcements)")
    tz = runtime.settings.tz
    return {
        "key": key,
        "announcements": [
            {
                "key": a.template_key,
                "anchor": a.anchor,
                "offset_seconds": a.offset_seconds,
                "post_id": p.id,
                "status": p.status,
                "due_at": iso(datetime.fromisoformat(p.schedule["at"]), tz),
            }
            for a, p in rows
        ],
    }
