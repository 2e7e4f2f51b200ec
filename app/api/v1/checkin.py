"""Admin: check-in campaigns (create, list, change, end) and check-in statistics per day.

Campaign routes write `checkin_campaigns` rows in the request's transaction; the stats route
is read-only. Groups are given as the channel's own chat ids and must be known to Qunyun.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Self

from fastapi import APIRouter, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from app.api.deps import RuntimeDep, SessionDep
from app.api.v1.points_common import PLATFORMS, checked, parse_day
from app.api.v1.schemas import iso
from app.clock import local_date
from app.db.models import CheckinCampaign
from app.runtime import Runtime
from app.services.checkin_stats import daily_stats
from app.services.points_admin import find_chat
from app.services.points_config import check_streak_bonuses

router = APIRouter(prefix="/points", tags=["check-in"])
MAX_STATS_DAYS = 92
Points = Annotated[int, Field(strict=True, ge=0, le=10_000)]


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64)]
    platform: Annotated[str, Field(pattern=PLATFORMS)] = "bridge"
    chat_ids: Annotated[list[Annotated[str, Field(min_length=1)]], Field(max_length=200)] = []
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    points: Points
    streak_bonuses: dict[int, int] = {}
    streak_bonus_repeat: bool = True
    enabled: bool = True

    @model_validator(mode="after")
    def _valid(self) -> Self:
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        check_streak_bonuses(self.streak_bonuses)
        return self


class CampaignPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    ends_at: AwareDatetime | None = None
    points: Points | None = None
    enabled: bool | None = None


def _out(campaign: CheckinCampaign, runtime: Runtime) -> dict[str, Any]:
    tz = runtime.settings.tz
    return {
        "id": campaign.id,
        "name": campaign.name,
        "chats": campaign.chats,
        "starts_at": iso(campaign.starts_at, tz),
        "ends_at": iso(campaign.ends_at, tz),
        "points": campaign.points,
        "streak_bonuses": campaign.streak_bonuses,
        "streak_bonus_repeat": campaign.streak_bonus_repeat,
        "enabled": campaign.enabled,
    }


@router.post("/checkin-campaigns")
def create_campaign(body: CampaignIn, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    """A check-in campaign; no `chat_ids` means every group."""
    checked(lambda: [find_chat(session, body.platform, chat_id) for chat_id in body.chat_ids])
    campaign = CheckinCampaign(
        name=body.name.strip(),
        chats=[f"{body.platform}:{chat_id}" for chat_id in dict.fromkeys(body.chat_ids)],
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        points=body.points,
        streak_bonuses={str(day): points for day, points in body.streak_bonuses.items()},
        streak_bonus_repeat=body.streak_bonus_repeat,
        enabled=body.enabled,
        created_at=runtime.deps.clock.now(),
    )
    session.add(campaign)
    session.flush()
    return _out(campaign, runtime)


@router.get("/checkin-campaigns")
def list_campaigns(session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    campaigns = session.scalars(select(CheckinCampaign).order_by(CheckinCampaign.id)).all()
    return {"items": [_out(c, runtime) for c in campaigns]}


@router.patch("/checkin-campaigns/{campaign_id}")
def change_campaign(
    campaign_id: int, body: CampaignPatch, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Rename, end, re-price, pause or resume a campaign."""
    campaign = session.get(CheckinCampaign, campaign_id)
    if campaign is None:
        raise HTTPException(404, detail="no such check-in campaign")
    if body.ends_at is not None and body.ends_at <= campaign.starts_at:
        raise HTTPException(422, detail="ends_at must be after starts_at")
    for field, value in body.model_dump(exclude_none=True).items():
        setattr(campaign, field, value.strip() if field == "name" else value)
    session.flush()
    return _out(campaign, runtime)


@router.get("/checkin-stats")
def checkin_stats(
    session: SessionDep,
    runtime: RuntimeDep,
    platform: Annotated[str, Query(pattern=PLATFORMS)] = "bridge",
    chat_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """Per community day: members who checked in, members present, and the rate."""
    tz = runtime.settings.tz
    last = parse_day(until, "until") if until else local_date(runtime.deps.clock.now(), tz)
    first = parse_day(since, "since") if since else last - timedelta(days=6)
    _check_days(first, last)
    chat = checked(lambda: find_chat(session, platform, chat_id)) if chat_id else None
    rows = daily_stats(session, chat_pk=chat.id if chat else None, since=first, until=last, tz=tz)
    return {
        "chat_id": chat_id,
        "items": [
            {
                "date": r.day.isoformat(),
                "checkins": r.checkins,
                "members": r.members,
                "rate": r.rate,
            }
            for r in rows
        ],
    }


def _check_days(first: date, last: date) -> None:
    if first > last:
        raise HTTPException(422, detail="since must not be after until")
    if (last - first).days >= MAX_STATS_DAYS:
        raise HTTPException(422, detail=f"at most {MAX_STATS_DAYS} days at a time")
