"""Admin operations on points: manual adjustments, campaign rewards and ledger queries.

Called by the admin API and the CLI inside their own transaction. Every input is checked
before anything is written; a refused request raises `AdminInputError` (status + one-line
reason) and the caller rolls back, so nothing of it is stored. Adjustments are audited: the
ledger entry keeps the operator and the reason they gave.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.db.models import Chat, Member, PointsEntry
from app.services.levels import level_up_text
from app.services.points import LedgerResult, PointsService
from app.services.points_notices import notify_member

MAX_REASON_LENGTH = 200
MAX_CAMPAIGN_MEMBERS = 500


class AdminInputError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Adjustment:
    platform: str
    user_id: str
    delta: int
    reason: str
    operator: str = "admin"
    chat_id: str | None = None
    key: str | None = None


def find_member(session: Session, platform: str, user_id: str) -> Member:
    member = session.scalar(
        select(Member).where(Member.platform == platform, Member.external_id == user_id)
    )
    if member is None:
        raise AdminInputError(404, f"unknown member {platform}:{user_id}")
    return member


def find_chat(session: Session, platform: str, chat_id: str) -> Chat:
    chat = session.scalar(
        select(Chat).where(Chat.platform == platform, Chat.external_id == chat_id)
    )
    if chat is None:
        raise AdminInputError(404, f"unknown chat {platform}:{chat_id}")
    return chat


def check_amount(points: PointsService, delta: int, *, positive: bool = False) -> None:
    limit = points.config.max_admin_delta
    if delta == 0:
        raise AdminInputError(422, "delta must not be zero")
    if positive and delta < 0:
        raise AdminInputError(422, "points must be positive")
    if abs(delta) > limit:
        raise AdminInputError(422, f"delta must be between -{limit} and {limit}")


def check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise AdminInputError(422, "a reason is required")
    if len(reason) > MAX_REASON_LENGTH:
        raise AdminInputError(422, f"the reason is longer than {MAX_REASON_LENGTH} characters")
    return reason


def adjust(points: PointsService, request: Adjustment, *, now: datetime) -> LedgerResult:
    """Award (delta > 0) or deduct points by hand; refused without a reason or overdrawn."""
    check_amount(points, request.delta)
    note = check_reason(request.reason)
    member = find_member(points.session, request.platform, request.user_id)
    chat = (
        find_chat(points.session, request.platform, request.chat_id) if request.chat_id else None
    )
    code = "admin_award" if request.delta > 0 else "admin_deduct"
    key = f"admin:{request.key or uuid.uuid4().hex}"
    result = points.apply(
        member.id,
        request.delta,
        code,
        key,
        chat_pk=chat.id if chat else None,
        operator=request.operator,
        note=note,
        at=now,
    )
    if result.status == "insufficient":
        raise AdminInputError(
            409,
            f"insufficient points: balance is {result.balance}, cannot deduct {-request.delta}",
        )
    if result.applied and result.level_up is not None:
        text = level_up_text(points.config.texts, member.name or "群友", result.level_up)
        notify_member(
            points.session,
            member_pk=member.id,
            text=text,
            key=f"level-up:{result.entry_id}",
            now=now,
            chat_pk=chat.id if chat else None,
        )
    return result


def award_campaign(
    points: PointsService,
    *,
    campaign: str,
    platform: str,
    user_ids: Sequence[str],
    amount: int,
    note: str,
    operator: str,
    now: datetime,
) -> list[tuple[str, LedgerResult]]:
    """有奖互动: give each listed member `amount` points once per campaign."""
    check_amount(points, amount, positive=True)
    note = check_reason(note)
    if not campaign.strip() or len(campaign) > 64:
        raise AdminInputError(422, "campaign must be 1..64 characters")
    if not user_ids or len(user_ids) > MAX_CAMPAIGN_MEMBERS:
        raise AdminInputError(422, f"user_ids must list 1..{MAX_CAMPAIGN_MEMBERS} members")
    members = {
        m.external_id: m
        for m in points.session.scalars(
            select(Member).where(Member.platform == platform, Member.external_id.in_(user_ids))
        )
    }
    unknown = sorted(set(user_ids) - set(members))
    if unknown:
        raise AdminInputError(404, f"unknown members: {', '.join(unknown[:20])}")
    return [
        (
            user_id,
            points.apply(
                members[user_id].id,
                amount,
                "campaign",
                f"campaign:{campaign}:{members[user_id].id}",
                ref=campaign,
                operator=operator,
                note=note,
                at=now,
            ),
        )
        for user_id in dict.fromkeys(user_ids)
    ]


@dataclass(frozen=True, slots=True)
class LedgerFilter:
    member_pk: int | None = None
    chat_pk: int | None = None
    reason: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_id: int = 0


@dataclass(frozen=True, slots=True)
class LedgerRow:
    entry: PointsEntry
    platform: str
    user_id: str
    member_name: str | None
    chat_id: str | None


def ledger_rows(session: Session, filters: LedgerFilter, *, limit: int) -> list[LedgerRow]:
    """Entries matching the filters, oldest first, with member and chat external ids."""
    chat = aliased(Chat)
    stmt = (
        select(PointsEntry, Member.platform, Member.external_id, Member.name, chat.external_id)
        .join(Member, Member.id == PointsEntry.member_id)
        .outerjoin(chat, chat.id == PointsEntry.chat_id)
        .where(PointsEntry.id > filters.after_id)
    )
    if filters.member_pk is not None:
        stmt = stmt.where(PointsEntry.member_id == filters.member_pk)
    if filters.chat_pk is not None:
        stmt = stmt.where(PointsEntry.chat_id == filters.chat_pk)
    if filters.reason:
        stmt = stmt.where(PointsEntry.reason == filters.reason)
    if filters.since is not None:
        stmt = stmt.where(PointsEntry.created_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(PointsEntry.created_at < filters.until)
    rows = session.execute(stmt.order_by(PointsEntry.id).limit(limit)).all()
    return [
        LedgerRow(entry, platform, user, name, chat_id)
        for entry, platform, user, name, chat_id in rows
    ]
