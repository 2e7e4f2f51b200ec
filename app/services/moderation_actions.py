"""What a case does, and how overturning it undoes that.

Runs inside the caller's transaction (the inbox worker when a case opens, an admin request when
one is overturned) and never commits; every effect is a row written in that transaction:
- warn: a reply text the handler posts with an @ to the member;
- deduct_points: a `points_ledger` debit keyed by the case (`PointsService`), never below zero;
- notify_admins: WeCom app messages to the configured staff (console when none is configured);
- request_removal: a bridge `remove_member` action in the outbox, or — where the channel cannot
  remove members — an owner task in `moderation_tasks` and a notice to the staff;
- blacklist: a `moderation_blacklist` row.
Every outbox key and ledger key is derived from the case id, so nothing can happen twice.
Overturning refunds the deducted points (its own idempotent key), lifts the case's blacklist
entry, cancels its open owner task and a removal the outbox has not sent yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db.models import (
    Chat,
    Member,
    ModerationBlacklist,
    ModerationCase,
    ModerationTask,
    OutboxRow,
)
from app.db.upsert import cached_statement
from app.messages import Platform
from app.moderation.ladder import Action
from app.moderation.texts import ModerationTexts
from app.outbox import OutboxDraft, enqueue
from app.services.points import PointsService, ledger_key

CONSOLE_ADMINS = "moderation-admins"
_EVIDENCE_CHARS = 300


@dataclass(frozen=True, slots=True)
class Scene:
    """A case with everything its actions need to say and address."""

    case: ModerationCase
    chat: Chat
    member: Member
    rule_text: str
    texts: ModerationTexts
    notify_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Applied:
    warning: str | None
    points: int


@dataclass(frozen=True, slots=True)
class Reversal:
    refunded: int
    blacklist_lifted: int
    tasks_cancelled: int
    removal: str  # none | cancelled | sent | sending


def removal_key(case_id: int) -> str:
    return f"moderation:remove:{case_id}"


class ModerationActions:
    def __init__(self, session: Session, points: PointsService, clock: Clock) -> None:
        self.session = session
        # member -> active entry, read once per service: every moderated message asks.
        self._blacklisted: dict[int, int] | None = None
        self.points = points
        self.clock = clock

    def apply(self, scene: Scene, action: Action) -> Applied:
        """Carry out the ladder's actions for a newly opened case."""
        warning: str | None = None
        deducted = 0
        for kind in action.kinds:
            if kind == "warn":
                warning = scene.texts.render(
                    "warn", rule_text=scene.rule_text, count=action.count, case_id=scene.case.id
                )
            elif kind == "deduct_points" and action.points > 0:
                deducted = self._deduct(scene.case, action.points)
            elif kind == "notify_admins":
                self.notify(f"case:{scene.case.id}", self._evidence(scene, action), scene)
            elif kind == "request_removal":
                self._request_removal(scene)
            elif kind == "blacklist":
                reason = scene.texts.render(
                    "removal_reason", case_id=scene.case.id, rule_text=scene.rule_text
                )
                self.blacklist(scene.member.id, reason, case_id=scene.case.id, by="moderation")
        return Applied(warning, deducted)

    def notify(self, ref: str, text: str, scene: Scene | tuple[str, ...]) -> None:
        """Queue a notice to the staff (one WeCom app message each), or to the console."""
        ids = scene.notify_ids if isinstance(scene, Scene) else scene
        now = self.clock.now()
        if not ids:
            draft = OutboxDraft(f"moderation:notify:{ref}", "console", CONSOLE_ADMINS, text)
            enqueue(self.session, [draft], now=now)
            return
        drafts = [
            OutboxDraft(f"moderation:notify:{ref}:{user_id}", "wecom_app", user_id, text)
            for user_id in ids
        ]
        enqueue(self.session, drafts, now=now)

    def blacklist(
        self, member_pk: int, reason: str, *, case_id: int | None, by: str | None
    ) -> ModerationBlacklist:
        """Blacklist a member (the active entry is returned if there is one)."""
        active = self.active_blacklist(member_pk)
        if active is not None:
            return active
        entry = ModerationBlacklist(
            member_id=member_pk,
            case_id=case_id,
            reason=reason,
            created_at=self.clock.now(),
            created_by=by,
        )
        self.session.add(entry)
        self.session.flush()
        if self._blacklisted is not None:
            self._blacklisted[member_pk] = entry.id
        return entry

    def active_blacklist(self, member_pk: int) -> ModerationBlacklist | None:
        """The member's active blacklist entry (read for every moderated message). The
        active entries are read once per service (the inbox worker builds one per batch):
        a short list, and one query instead of one per message."""
        if self._blacklisted is None:
            stmt = cached_statement(self.session, "mod-blacklisted", _active_entries)
            self._blacklisted = {}
            for member, entry_id in self.session.execute(stmt):
                self._blacklisted.setdefault(int(member), int(entry_id))
        entry_id = self._blacklisted.get(member_pk)
        return None if entry_id is None else self.session.get(ModerationBlacklist, entry_id)

    def lift_blacklist(
        self, *, by: str | None, member_pk: int | None = None, case_id: int | None = None
    ) -> int:
        """Lift active entries of a member or of a case; returns how many."""
        stmt = update(ModerationBlacklist).where(ModerationBlacklist.lifted_at.is_(None))
        if member_pk is not None:
            stmt = stmt.where(ModerationBlacklist.member_id == member_pk)
        if case_id is not None:
            stmt = stmt.where(ModerationBlacklist.case_id == case_id)
        result = self.session.execute(stmt.values(lifted_at=self.clock.now(), lifted_by=by))
        self._blacklisted = None
        return int(result.rowcount)  # type: ignore[attr-defined]

    def reverse(self, case: ModerationCase, *, by: str | None) -> Reversal:
        """Undo a case's penalties (safe to call again: every step is keyed or conditional)."""
        refunded = 0
        if case.points_deducted > 0:
            result = self.points.apply(
                case.member_id,
                case.points_deducted,
                "refund",
                ledger_key("moderation_refund", f"case:{case.id}"),
                chat_pk=case.chat_id,
                ref=f"case:{case.id}",
                operator=(by or "moderation")[:64],
                note="moderation case overturned",
            )
            refunded = result.delta if result.ok else 0
        lifted = self.lift_blacklist(by=by, case_id=case.id)
        cancelled = self.session.execute(
            update(ModerationTask)
            .where(ModerationTask.case_id == case.id, ModerationTask.status == "open")
            .values(status="cancelled", resolved_at=self.clock.now(), resolved_by=by)
        )
        tasks = int(cancelled.rowcount)  # type: ignore[attr-defined]
        return Reversal(refunded, lifted, tasks, self._cancel_removal(case.id))

    # -- internals ---------------------------------------------------------------------------
    def _deduct(self, case: ModerationCase, points: int) -> int:
        result = self.points.deduct_for_violation(
            case.member_id, points, f"case:{case.id}", chat_pk=case.chat_id
        )
        return -result.delta if result.ok and result.delta < 0 else 0

    def _evidence(self, scene: Scene, action: Action) -> str:
        case = scene.case
        detail = case.matched or "; ".join(str(hit.get("detail", "")) for hit in case.hits)
        return scene.texts.render(
            "notify_case",
            case_id=case.id,
            chat=scene.chat.name or scene.chat.external_id,
            member=scene.member.name or scene.member.external_id,
            user_id=scene.member.external_id,
            rule=case.rule,
            category=scene.texts.category(case.category),
            matched=detail[:_EVIDENCE_CHARS],
            text=case.text[:_EVIDENCE_CHARS],
            action=scene.texts.action_names(action.kinds),
            count=action.count,
        )

    def _request_removal(self, scene: Scene) -> None:
        case, chat, member = scene.case, scene.chat, scene.member
        reason = scene.texts.render("removal_reason", case_id=case.id, rule_text=scene.rule_text)
        if chat.platform == Platform.BRIDGE:
            draft = OutboxDraft(
                removal_key(case.id),
                "bridge",
                chat.external_id,
                "",
                kind="action",
                extras={
                    "action": "remove_member",
                    "user_id": member.external_id,
                    "reason": reason,
                },
                chat_pk=chat.id,
            )
            enqueue(self.session, [draft], now=self.clock.now())
            return
        self._owner_task(scene, reason)

    def _owner_task(self, scene: Scene, reason: str) -> None:
        case = scene.case
        existing = self.session.scalar(
            select(ModerationTask.id).where(
                ModerationTask.case_id == case.id, ModerationTask.kind == "remove_member"
            )
        )
        if existing is not None:
            return
        task = ModerationTask(
            case_id=case.id,
            chat_id=scene.chat.id,
            member_id=scene.member.id,
            kind="remove_member",
            reason=reason,
            status="open",
            created_at=self.clock.now(),
        )
        self.session.add(task)
        self.session.flush()
        text = scene.texts.render(
            "notify_task",
            case_id=case.id,
            chat=scene.chat.name or scene.chat.external_id,
            member=scene.member.name or scene.member.external_id,
            user_id=scene.member.external_id,
            reason=reason,
        )
        self.notify(f"task:{task.id}", text, scene)

    def _cancel_removal(self, case_id: int) -> str:
        row = self.session.scalars(
            select(OutboxRow).where(OutboxRow.idempotency_key == removal_key(case_id))
        ).first()
        if row is None:
            return "none"
        if row.status in ("queued", "failed"):
            row.status = "dead"
            row.last_error = "cancelled: the moderation case was overturned"
            return "cancelled"
        if row.status == "dead":
            return "cancelled"
        return "sent" if row.status == "sent" else "sending"


def _active_entries(dialect: str) -> Select[int, int]:
    return (
        select(ModerationBlacklist.member_id, ModerationBlacklist.id)
        .where(ModerationBlacklist.lifted_at.is_(None))
        .order_by(ModerationBlacklist.id)
    )
