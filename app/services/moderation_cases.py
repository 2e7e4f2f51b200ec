"""The mod log: opening cases, counting a member's earlier violations, and finding cases.

Runs inside a caller's transaction (the inbox worker when a message breaks a rule, the admin
API and member commands when they read). `open_case` inserts one `moderation_cases` row per
message key — INSERT … ON CONFLICT DO NOTHING, so a retried message finds its case instead of
opening a second one (and the caller then skips every action).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.db.models import Chat, Member, ModerationCase
from app.db.upsert import insert_ignore
from app.moderation.verdict import Hit

MAX_TEXT = 4000
_Ts = TypeVarTuple("_Ts")


@dataclass(frozen=True, slots=True)
class NewCase:
    """What a violation is on record as; `primary` is the hit the ladder goes by."""

    message_key: str
    chat_pk: int
    member_pk: int
    kind: str
    text: str
    normalized: str
    primary: Hit
    hits: Sequence[Hit]
    ladder: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CaseFilter:
    chat_pk: int | None = None
    member_pk: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    status: str | None = None
    category: str | None = None
    rule: str | None = None


@dataclass(frozen=True, slots=True)
class CaseRow:
    """A case with the channel's own ids and names of its chat and member."""

    case: ModerationCase
    platform: str
    chat_id: str
    chat_name: str | None
    user_id: str
    member_name: str | None


def hit_record(hit: Hit) -> dict[str, Any]:
    return {
        "rule": hit.rule,
        "category": hit.category,
        "start": hit.start,
        "end": hit.end,
        "matched": hit.matched,
        "detail": hit.detail,
    }


def open_case(session: Session, new: NewCase) -> tuple[ModerationCase, bool]:
    """The case of this message, created now (True) or found from an earlier run (False)."""
    row = {
        "message_key": new.message_key,
        "chat_id": new.chat_pk,
        "member_id": new.member_pk,
        "kind": new.kind,
        "text": new.text[:MAX_TEXT],
        "normalized": new.normalized[:MAX_TEXT],
        "rule": new.primary.rule[:64],
        "category": new.primary.category,
        "ladder": new.ladder,
        "start": new.primary.start,
        "end": new.primary.end,
        "matched": new.primary.matched[:MAX_TEXT],
        "hits": [hit_record(hit) for hit in new.hits],
        "actions": ["log"],
        "count": 1,
        "points_deducted": 0,
        "status": "open",
        "created_at": new.at,
    }
    created = insert_ignore(
        session, ModerationCase, [row], ["message_key"], ModerationCase.message_key
    )
    case = session.scalars(
        select(ModerationCase).where(ModerationCase.message_key == new.message_key)
    ).one()
    return case, bool(created)


def prior_violations(
    session: Session, *, member_pk: int, ladder: str, since: datetime, exclude: int
) -> list[datetime]:
    """When the member broke rules of this ladder since `since` (overturned cases excluded)."""
    return list(
        session.scalars(
            select(ModerationCase.created_at).where(
                ModerationCase.member_id == member_pk,
                ModerationCase.ladder == ladder,
                ModerationCase.created_at > since,
                ModerationCase.status != "overturned",
                ModerationCase.id != exclude,
            )
        )
    )


def member_cases(
    session: Session, member_pk: int, *, since: datetime, limit: int
) -> list[ModerationCase]:
    """A member's cases since `since`, newest first."""
    return list(
        session.scalars(
            select(ModerationCase)
            .where(ModerationCase.member_id == member_pk, ModerationCase.created_at >= since)
            .order_by(ModerationCase.created_at.desc(), ModerationCase.id.desc())
            .limit(limit)
        )
    )


def _filtered(stmt: Select[*_Ts], where: CaseFilter) -> Select[*_Ts]:
    conditions = [
        (where.chat_pk, ModerationCase.chat_id),
        (where.member_pk, ModerationCase.member_id),
        (where.status, ModerationCase.status),
        (where.category, ModerationCase.category),
        (where.rule, ModerationCase.rule),
    ]
    for value, column in conditions:
        if value is not None:
            stmt = stmt.where(column == value)
    if where.since is not None:
        stmt = stmt.where(ModerationCase.created_at >= where.since)
    if where.until is not None:
        stmt = stmt.where(ModerationCase.created_at < where.until)
    return stmt


def find_cases(
    session: Session, where: CaseFilter, *, limit: int, offset: int = 0
) -> list[CaseRow]:
    """Cases matching the filter, newest first, with their chat and member."""
    stmt = _filtered(_joined(), where).order_by(
        ModerationCase.created_at.desc(), ModerationCase.id.desc()
    )
    return [CaseRow(*row) for row in session.execute(stmt.limit(limit).offset(offset))]


def count_cases(session: Session, where: CaseFilter) -> int:
    stmt = _filtered(select(func.count()).select_from(ModerationCase), where)
    return int(session.scalar(stmt) or 0)


def case_row(session: Session, case_id: int) -> CaseRow | None:
    """One case with its chat and member, or None."""
    rows = find_cases_by_ids(session, [case_id])
    return rows[0] if rows else None


def find_cases_by_ids(session: Session, ids: Sequence[int]) -> list[CaseRow]:
    stmt = _joined().where(ModerationCase.id.in_(list(ids))).order_by(ModerationCase.id)
    return [CaseRow(*row) for row in session.execute(stmt)]


def _joined() -> Select[ModerationCase, str, str, str | None, str, str | None]:
    return (
        select(
            ModerationCase,
            Chat.platform,
            Chat.external_id,
            Chat.name,
            Member.external_id,
            Member.name,
        )
        .join(Chat, Chat.id == ModerationCase.chat_id)
        .join(Member, Member.id == ModerationCase.member_id)
    )
