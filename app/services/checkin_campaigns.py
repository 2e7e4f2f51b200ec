"""Check-in campaigns: which reward and streak rules apply to a group's 签到 at a moment.

Read by the check-in service inside the inbox transaction; written by the admin API and the
demo seeder (`checkin_campaigns` rows). With no campaign at all, every group still gets
check-in by the default rules of config/points.toml (SPEC: "签到 gives points" without setup).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import SystemClock
from app.db.models import CheckinCampaign
from app.services.points_config import Rules, load_points_config
from app.services.points_sql import stmt

DEFAULT_CAMPAIGN_NAME = "每日签到"


@dataclass(frozen=True, slots=True)
class CheckinPlan:
    """The reward of one check-in: the campaign (None = config defaults) and its rules."""

    campaign_id: int | None
    name: str
    points: int
    bonuses: dict[int, int] = field(default_factory=dict)
    repeat: bool = True


def default_plan(rules: Rules) -> CheckinPlan:
    return CheckinPlan(
        None,
        DEFAULT_CAMPAIGN_NAME,
        rules.checkin_points,
        dict(rules.streak_bonuses),
        rules.streak_bonus_repeat,
    )


def plan_for(session: Session, chat_key: str | None, at: datetime, rules: Rules) -> CheckinPlan:
    """The running campaign for this group (its own before an all-groups one, the newest
    first), or the group's default rules when none runs."""
    running = session.execute(stmt(session, "running_campaigns"), {"at": at}).all()
    own = [c for c in running if chat_key is not None and chat_key in (c.chats or [])]
    everywhere = [c for c in running if not c.chats]
    if not own and not everywhere:
        return default_plan(rules)
    chosen = (own or everywhere)[0]
    return CheckinPlan(
        int(chosen.id),
        chosen.name,
        int(chosen.points),
        {int(day): int(points) for day, points in (chosen.streak_bonuses or {}).items()},
        bool(chosen.streak_bonus_repeat),
    )


def seed_default_campaign(session: Session, *, now: datetime, rules: Rules) -> bool:
    """Create the all-groups 每日签到 campaign unless one with that name exists (demo data)."""
    exists = session.scalar(
        select(CheckinCampaign.id).where(CheckinCampaign.name == DEFAULT_CAMPAIGN_NAME)
    )
    if exists is not None:
        return False
    session.add(
        CheckinCampaign(
            name=DEFAULT_CAMPAIGN_NAME,
            chats=[],
            starts_at=now,
            ends_at=None,
            points=rules.checkin_points,
            streak_bonuses={str(day): points for day, points in rules.streak_bonuses.items()},
            streak_bonus_repeat=rules.streak_bonus_repeat,
            enabled=True,
            created_at=now,
        )
    )
    session.flush()
    return True


def seed_demo_campaign(session: Session) -> None:
    """`qunyun demo` seeder: the default check-in campaign, from config/points.toml."""
    seed_default_campaign(session, now=SystemClock().now(), rules=load_points_config().rules)
