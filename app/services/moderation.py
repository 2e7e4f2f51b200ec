"""The moderation service: judge a group message and act on a violation, as ordered guards.

Runs for every group message inside the inbox worker's transaction (through
app/handlers/moderation.py) and never commits. The order, Red-DiscordBot style:

1. rules of the chat's scope (defaults → profile → group; cached per process, rebuilt when the
   stored rules version moves);
2. exempt roles (owner/admin/staff) and whitelisted members: nothing happens;
3. blacklisted members: every message is a case; the first one in a chat requests removal;
4. content check (stateless), then activity checks over `moderation_activity` (flood, repeats,
   spam waves) and links from members who joined recently; the message is recorded;
5. a violation opens a case (unique per message key: a retried message acts once), the ladder
   decides from the member's earlier cases of the same ladder, the actions run.

Also answers the member commands 群规 / 我的违规 / 申诉 (app/handlers/rules_commands.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db.models import Chat, ChatMember, Member, ModerationBlacklist, ModerationCase
from app.db.upsert import cached_statement, one_of
from app.messages import InboundMessage
from app.moderation.activity import (
    RecentMessage,
    check_activity,
    check_new_member_link,
    similarity_key,
)
from app.moderation.cache import LoadedRules, RulesCache
from app.moderation.ladder import Action, decide_action
from app.moderation.rule_types import NewMemberLinkRule
from app.moderation.rules import EffectiveRules
from app.moderation.verdict import ContentVerdict, Hit, first_category
from app.moderation.wave_window import WaveWindow
from app.services.moderation_actions import ModerationActions, Scene
from app.services.moderation_activity import ActivityLog
from app.services.moderation_cases import NewCase, open_case, prior_violations
from app.services.moderation_config import ModerationConfigService, group_keys
from app.services.moderation_review import ModerationReview
from app.services.points import PointsService

BLACKLIST_RULE = "blacklist"
LOG_ONLY = Action(kinds=("log",), points=0, count=1, step=None)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the handler does: `violation` stops the pipeline; `warning` is posted with an @."""

    violation: bool
    case_id: int | None = None
    warning: str | None = None
    replayed: bool = False
    exempt: bool = False


@dataclass(frozen=True, slots=True)
class _Judged:
    message: InboundMessage
    chat_pk: int
    member_pk: int
    at: datetime
    rules: EffectiveRules
    loaded: LoadedRules


class ModerationService:
    """Moderation for one transaction; `config`, `review` and `actions` are its parts."""

    def __init__(
        self,
        session: Session,
        cache: RulesCache,
        clock: Clock,
        tz: ZoneInfo,
        points: PointsService,
        window: WaveWindow,
    ) -> None:
        self.session = session
        self.clock = clock
        self.tz = tz
        self.config = ModerationConfigService(session, cache, clock)
        self.activity = ActivityLog(session, window)
        self.actions = ModerationActions(session, points, clock)
        self.review = ModerationReview(session, self.actions, clock)
        self._profiles: dict[int, str | None] = {}  # chat profiles, read once per service

    # -- the pipeline step -------------------------------------------------------------------
    def expect(self, senders: Iterable[tuple[int, int]], earliest: datetime) -> None:
        """A batch's (chat, member) pairs and earliest message time, before it is moderated:
        the senders' recent messages are then read in one query for the batch, and so are
        the profiles of its chats."""
        pairs = set(senders)
        self.activity.expect(pairs, earliest)
        chats = sorted({chat for chat, _ in pairs} - self._profiles.keys())
        if chats:
            stmt = cached_statement(self.session, "mod-chat-profiles", _chat_profiles)
            self._profiles.update(
                (row.id, row.profile) for row in self.session.execute(stmt, {"chats": chats})
            )

    def moderate(
        self, message: InboundMessage, *, chat_pk: int, member_pk: int, at: datetime
    ) -> Outcome:
        """Judge one group message and act on a violation (see the module docstring)."""
        loaded = self.config.loaded()
        rules = self.rules_for_chat(loaded, chat_pk, message)
        if rules.is_exempt(user_id=message.sender_id, role=message.sender_role):
            return Outcome(False, exempt=True)
        judged = _Judged(message, chat_pk, member_pk, at, rules, loaded)
        entry = self.actions.active_blacklist(member_pk)
        if entry is not None:
            return self._blacklisted(judged, entry)
        verdict = loaded.checker(rules).check(
            message.text, message.kind, url=message.url, title=message.title
        )
        hits = [*verdict.hits, *self._activity_hits(judged, verdict)]
        if not hits:
            return Outcome(False)
        return self._violation(judged, verdict.normalized, hits)

    def rules_for_chat(
        self, loaded: LoadedRules, chat_pk: int, message: InboundMessage
    ) -> EffectiveRules:
        if chat_pk not in self._profiles:
            stmt = cached_statement(self.session, "mod-chat-profile", _chat_profile)
            self._profiles[chat_pk] = self.session.scalar(stmt, {"chat": chat_pk})
        profile = self._profiles[chat_pk]
        return loaded.scope(group_keys(str(message.chat.platform), message.chat.chat_id), profile)

    def _activity_hits(self, judged: _Judged, verdict: ContentVerdict) -> list[Hit]:
        key = similarity_key(verdict.normalized)
        current = RecentMessage(str(judged.chat_pk), str(judged.member_pk), key, judged.at)
        recent = self.activity.recent(
            judged.rules,
            chat_pk=judged.chat_pk,
            member_pk=judged.member_pk,
            text_key=key,
            at=judged.at,
        )
        self.activity.record(
            message_key=judged.message.dedupe_key,
            chat_pk=judged.chat_pk,
            member_pk=judged.member_pk,
            text_key=key,
            at=judged.at,
        )
        hits = check_activity(recent, current, judged.rules)
        if verdict.links and any(isinstance(r, NewMemberLinkRule) for r in judged.rules.rules):
            joined = self._joined_at(judged.chat_pk, judged.member_pk)
            hits += check_new_member_link(
                verdict, joined_at=joined, now=judged.at, rules=judged.rules
            )
        return hits

    def _violation(self, judged: _Judged, normalized: str, hits: list[Hit]) -> Outcome:
        category = first_category({hit.category for hit in hits})
        primary = next(hit for hit in hits if hit.category == category)
        rule = judged.rules.rule(primary.rule)
        ladder_name = rule.ladder if rule is not None else ""
        ladder = judged.rules.ladders.get(ladder_name)
        case, created = open_case(
            self.session, self._new_case(judged, normalized, primary, hits, ladder_name)
        )
        if not created:
            return Outcome(True, case.id, replayed=True)
        action = LOG_ONLY
        if ladder is not None:
            self._lock_member(judged.member_pk)
            since = judged.at - timedelta(days=ladder.expire_after_days)
            prior = prior_violations(
                self.session,
                member_pk=judged.member_pk,
                ladder=ladder_name,
                since=since,
                exclude=case.id,
            )
            action = decide_action(ladder, prior, judged.at)
        texts = judged.loaded.rules.texts
        rule_text = (rule.text if rule is not None else "") or texts.default_rule_text
        return self._act(judged, case, action, rule_text)

    def _act(
        self, judged: _Judged, case: ModerationCase, action: Action, rule_text: str
    ) -> Outcome:
        chat = self.session.get_one(Chat, judged.chat_pk)
        member = self.session.get_one(Member, judged.member_pk)
        texts = judged.loaded.rules.texts
        scene = Scene(case, chat, member, rule_text, texts, judged.rules.settings.notify_user_ids)
        applied = self.actions.apply(scene, action)
        case.actions = list(action.kinds)
        case.step = action.step
        case.count = action.count
        case.points_deducted = applied.points
        return Outcome(True, case.id, warning=applied.warning)

    def _blacklisted(self, judged: _Judged, entry: ModerationBlacklist) -> Outcome:
        detail = f"blacklisted since {entry.created_at.astimezone(self.tz):%Y-%m-%d}"
        hit = Hit(BLACKLIST_RULE, "other", 0, 0, "", detail)
        new = self._new_case(judged, judged.message.text, hit, [hit], "")
        case, created = open_case(self.session, new)
        if not created:
            return Outcome(True, case.id, replayed=True)
        earlier = self.session.scalar(
            select(func.count())
            .select_from(ModerationCase)
            .where(
                ModerationCase.chat_id == judged.chat_pk,
                ModerationCase.member_id == judged.member_pk,
                ModerationCase.rule == BLACKLIST_RULE,
                ModerationCase.created_at >= entry.created_at,
                ModerationCase.id != case.id,
            )
        )
        action = LOG_ONLY if earlier else Action(("request_removal",), 0, 1, None)
        outcome = self._act(judged, case, action, entry.reason or BLACKLIST_RULE)
        return Outcome(True, outcome.case_id)

    def _new_case(
        self, judged: _Judged, normalized: str, primary: Hit, hits: list[Hit], ladder: str
    ) -> NewCase:
        message = judged.message
        return NewCase(
            message_key=message.dedupe_key,
            chat_pk=judged.chat_pk,
            member_pk=judged.member_pk,
            kind=str(message.kind),
            text=message.text,
            normalized=normalized,
            primary=primary,
            hits=hits,
            ladder=ladder,
            at=judged.at,
        )

    def _lock_member(self, member_pk: int) -> None:
        """Serialise ladder decisions per member across processes (PostgreSQL row lock)."""
        self.session.execute(select(Member.id).where(Member.id == member_pk).with_for_update())

    def _joined_at(self, chat_pk: int, member_pk: int) -> datetime | None:
        return self.session.scalar(
            select(ChatMember.joined_at).where(
                ChatMember.chat_id == chat_pk, ChatMember.member_id == member_pk
            )
        )


def _chat_profiles(dialect: str) -> Select[int, str | None]:
    return select(Chat.id, Chat.profile).where(one_of(dialect, Chat.id, "chats"))


def _chat_profile(dialect: str) -> Select[str | None]:
    return select(Chat.profile).where(Chat.id == bindparam("chat"))
