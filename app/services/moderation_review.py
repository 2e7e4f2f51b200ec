"""Reviewing the mod log: confirm or overturn a case, members' appeals and their resolution.

Runs inside the caller's transaction (an admin API request; the inbox worker for 申诉) and
never commits. A case row is locked before its status changes, so two admins overturning the
same case at once refund once. Overturning reverses the case's penalties
(`ModerationActions.reverse`) and accepts its open appeal; confirming rejects it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db.models import ModerationAppeal, ModerationCase
from app.services.moderation_actions import ModerationActions, Reversal
from app.services.moderation_config import ModerationError

MAX_REASON = 1000


@dataclass(frozen=True, slots=True)
class AppealResult:
    """`status`: created, duplicate (this case was appealed before) or nothing (no case)."""

    status: str
    case: ModerationCase | None = None
    appeal: ModerationAppeal | None = None


class ModerationReview:
    def __init__(self, session: Session, actions: ModerationActions, clock: Clock) -> None:
        self.session = session
        self.actions = actions
        self.clock = clock

    def confirm(self, case_id: int, *, by: str | None, note: str | None) -> ModerationCase:
        """Mark a case as right (again: no change); an overturned case cannot be confirmed."""
        case = self._locked(case_id)
        if case.status == "overturned":
            raise ModerationError(409, f"case {case_id} was overturned; it cannot be confirmed")
        if case.status != "confirmed":
            self._review(case, "confirmed", by, note)
            self._settle_appeal(case.id, "rejected", by, note)
        return case

    def overturn(
        self, case_id: int, *, by: str | None, note: str | None
    ) -> tuple[ModerationCase, Reversal]:
        """Mark a case as wrong and reverse its penalties."""
        case = self._locked(case_id)
        if case.status == "overturned":
            raise ModerationError(409, f"case {case_id} is already overturned")
        reversal = self.actions.reverse(case, by=by)
        self._review(case, "overturned", by, note)
        self._settle_appeal(case.id, "accepted", by, note)
        return case, reversal

    def open_appeal(self, member_pk: int, reason: str, *, since: datetime) -> AppealResult:
        """A member appeals their latest case since `since` (one appeal per case)."""
        case = self.session.scalars(
            select(ModerationCase)
            .where(
                ModerationCase.member_id == member_pk,
                ModerationCase.created_at >= since,
                ModerationCase.status != "overturned",
            )
            .order_by(ModerationCase.created_at.desc(), ModerationCase.id.desc())
            .limit(1)
        ).first()
        if case is None:
            return AppealResult("nothing")
        existing = self.appeal_of(case.id)
        if existing is not None:
            return AppealResult("duplicate", case, existing)
        appeal = ModerationAppeal(
            case_id=case.id,
            member_id=member_pk,
            reason=reason[:MAX_REASON],
            status="open",
            created_at=self.clock.now(),
        )
        self.session.add(appeal)
        self.session.flush()
        return AppealResult("created", case, appeal)

    def resolve_appeal(
        self, appeal_id: int, *, accept: bool, by: str | None, note: str | None
    ) -> tuple[ModerationAppeal, ModerationCase, Reversal | None]:
        """Accept (overturns the case) or reject (confirms it) an open appeal."""
        appeal = self.session.get(ModerationAppeal, appeal_id, with_for_update=True)
        if appeal is None:
            raise ModerationError(404, f"no appeal {appeal_id}")
        if appeal.status != "open":
            raise ModerationError(409, f"appeal {appeal_id} is already {appeal.status}")
        if accept:
            case, reversal = self.overturn(appeal.case_id, by=by, note=note)
            return appeal, case, reversal
        return appeal, self.confirm(appeal.case_id, by=by, note=note), None

    def appeal_of(self, case_id: int) -> ModerationAppeal | None:
        return self.session.scalars(
            select(ModerationAppeal).where(ModerationAppeal.case_id == case_id)
        ).first()

    def appeals(self, status: str | None, *, limit: int, offset: int) -> list[ModerationAppeal]:
        stmt = select(ModerationAppeal).order_by(ModerationAppeal.id.desc())
        if status is not None:
            stmt = stmt.where(ModerationAppeal.status == status)
        return list(self.session.scalars(stmt.limit(limit).offset(offset)))

    def _locked(self, case_id: int) -> ModerationCase:
        case = self.session.get(ModerationCase, case_id, with_for_update=True)
        if case is None:
            raise ModerationError(404, f"no case {case_id}")
        return case

    def _review(self, case: ModerationCase, status: str, by: str | None, note: str | None) -> None:
        case.status = status
        case.reviewed_at = self.clock.now()
        case.reviewed_by = by[:64] if by else None
        case.review_note = note[:MAX_REASON] if note else None

    def _settle_appeal(self, case_id: int, status: str, by: str | None, note: str | None) -> None:
        appeal = self.appeal_of(case_id)
        if appeal is not None and appeal.status == "open":
            appeal.status = status
            appeal.resolved_at = self.clock.now()
            appeal.resolved_by = by[:64] if by else None
            appeal.resolution = note[:MAX_REASON] if note else None
