"""Admin: balances, member detail, manual adjustments, campaign rewards, ledger verification.

Every route runs in the request's transaction. Adjustments and rewards write audited ledger
entries (operator and reason kept); bad input is a 4xx with a clear reason and nothing stored.
`GET /points/balance` keeps the SPEC shape `{"balance": <int>, "level": …}` (level = number).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from app.api.deps import RuntimeDep, SessionDep
from app.api.v1.points_common import PLATFORMS, checked, points_service
from app.api.v1.schemas import iso
from app.db.models import Checkin, PointsEntry
from app.services.checkin import CheckinService
from app.services.levels import LevelStatus, privileges
from app.services.points import Account, LedgerResult, PointsService
from app.services.points_admin import Adjustment, adjust, award_campaign, find_member
from app.services.points_audit import verify_ledger
from app.services.points_config import PointsTexts

router = APIRouter(prefix="/points", tags=["points"])
UserId = Annotated[str, Field(min_length=1, max_length=128)]
Reason = Annotated[str, Field(max_length=200, description="Why; kept in the ledger.")]
Operator = Annotated[str, Field(min_length=1, max_length=64)]


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: Annotated[str, Field(pattern=PLATFORMS)] = "bridge"
    user_id: UserId
    delta: Annotated[int, Field(strict=True, description="Points to add; negative deducts.")]
    reason: Reason
    chat_id: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    operator: Operator = "admin"
    idempotency_key: Annotated[str | None, Field(min_length=1, max_length=120)] = None


class CampaignRewardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign: Annotated[str, Field(min_length=1, max_length=64)]
    platform: Annotated[str, Field(pattern=PLATFORMS)] = "bridge"
    user_ids: Annotated[list[UserId], Field(min_length=1, max_length=500)]
    points: Annotated[int, Field(strict=True)]
    reason: Reason
    operator: Operator = "admin"


def _level(texts: PointsTexts, status: LevelStatus) -> dict[str, Any]:
    following = status.next
    return {
        "level": status.current.level,
        "level_name": status.current.name,
        "privileges": list(privileges(texts, status.current)),
        "next_level": None
        if following is None
        else {"level": following.level, "name": following.name, "gap": status.gap},
    }


def _standing(points: PointsService, account: Account) -> dict[str, Any]:
    status = points.level_status(account.member_pk)
    return {
        "balance": account.balance,
        "earned": account.earned,
        **_level(points.config.texts, status),
    }


def _result(result: LedgerResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "entry_id": result.entry_id,
        "delta": result.delta,
        "balance": result.balance,
        "level_up": None if result.level_up is None else result.level_up.level,
    }


@router.get("/balance")
def balance(
    session: SessionDep,
    runtime: RuntimeDep,
    user_id: Annotated[str, Query(min_length=1, max_length=128)],
    platform: Annotated[str, Query(pattern=PLATFORMS)] = "bridge",
) -> dict[str, Any]:
    """A member's balance and level: `{"balance": 120, "level": 2, ...}`."""
    member = checked(lambda: find_member(session, platform, user_id))
    points = points_service(session, runtime)
    account = points.account(member.id)
    return {"platform": platform, "user_id": user_id, **_standing(points, account)}


@router.get("/members/{user_id}")
def member_detail(
    user_id: str,
    session: SessionDep,
    runtime: RuntimeDep,
    platform: Annotated[str, Query(pattern=PLATFORMS)] = "bridge",
    history: Annotated[int, Query(ge=0, le=200)] = 20,
) -> dict[str, Any]:
    """Balance, level, streak, last check-in and the latest ledger entries of a member."""
    member = checked(lambda: find_member(session, platform, user_id))
    points = points_service(session, runtime)
    tz = runtime.settings.tz
    last_checkin = session.scalar(
        select(Checkin.day).where(Checkin.member_id == member.id).order_by(Checkin.day.desc())
    )
    entries = session.scalars(
        select(PointsEntry)
        .where(PointsEntry.member_id == member.id)
        .order_by(PointsEntry.id.desc())
        .limit(history)
    ).all()
    return {
        "platform": platform,
        "user_id": user_id,
        "name": member.name,
        **_standing(points, points.account(member.id)),
        "streak": CheckinService(session, points).current_streak(member.id),
        "last_checkin": last_checkin.isoformat() if last_checkin else None,
        "history": [
            {
                "id": e.id,
                "created_at": iso(e.created_at, tz),
                "delta": e.delta,
                "balance_after": e.balance_after,
                "reason": e.reason,
                "reason_label": points.config.reason_label(e.reason),
                "operator": e.operator,
                "note": e.note,
            }
            for e in entries
        ],
    }


@router.post("/adjustments")
def create_adjustment(
    body: AdjustmentIn, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Award or deduct points by hand; a reason is required, overdrawing is refused (409)."""
    points = points_service(session, runtime)
    request = Adjustment(
        body.platform,
        body.user_id,
        body.delta,
        body.reason,
        body.operator,
        body.chat_id,
        body.idempotency_key,
    )
    result = checked(lambda: adjust(points, request, now=runtime.deps.clock.now()))
    runtime.outbox.wake()
    return _result(result)


@router.post("/campaign-rewards")
def create_campaign_rewards(
    body: CampaignRewardIn, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """有奖互动: give each listed member the campaign's points (once per member)."""
    points = points_service(session, runtime)
    results = checked(
        lambda: award_campaign(
            points,
            campaign=body.campaign,
            platform=body.platform,
            user_ids=body.user_ids,
            amount=body.points,
            note=body.reason,
            operator=body.operator,
            now=runtime.deps.clock.now(),
        )
    )
    return {"items": [{"user_id": user, **_result(result)} for user, result in results]}


@router.get("/verify")
def verify(session: SessionDep) -> dict[str, Any]:
    """The ledger check of `qunyun points verify`."""
    report = verify_ledger(session)
    return {
        "ok": report.ok,
        "accounts": report.accounts,
        "entries": report.entries,
        "total_balance": report.total_balance,
        "problems": report.problems,
    }
