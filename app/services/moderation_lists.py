"""Admin lists: whitelisted members (kept in the stored rule scopes) and the blacklist.

Runs inside an admin API request's transaction and never commits. A whitelist change is a
scope change (`ModerationConfigService.put_scope`), so it is validated like one and moves the
rules version: every process stops moderating the member at its next message. The blacklist is
its own table; lifting an entry keeps it as history.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Member, ModerationBlacklist
from app.moderation.overlay import DEFAULTS, split_scope
from app.services.moderation_actions import ModerationActions
from app.services.moderation_config import ModerationConfigService, ModerationError


@dataclass(frozen=True, slots=True)
class WhitelistEntry:
    user_id: str
    scope: str  # "defaults" or "group:<chat id>"
    stored: bool  # True: in a scope stored through the API; False: only in the rule file


@dataclass(frozen=True, slots=True)
class BlacklistRow:
    entry: ModerationBlacklist
    platform: str
    user_id: str
    member_name: str | None


class ModerationLists:
    def __init__(self, config: ModerationConfigService, actions: ModerationActions) -> None:
        self.config = config
        self.actions = actions
        self.session: Session = config.session

    # -- whitelist ---------------------------------------------------------------------------
    def whitelist(self) -> list[WhitelistEntry]:
        """Every whitelisted member id and where it is set."""
        rules = self.config.loaded().rules
        stored = self.config.stored()
        own = set(_members(stored.defaults, DEFAULTS))
        entries = [
            WhitelistEntry(user, DEFAULTS, user in own)
            for user in rules.settings.whitelisted_members
        ]
        for key, group in sorted(rules.groups.items()):
            kept = set(_members(stored.groups.get(key), "group"))
            entries += [
                WhitelistEntry(user, f"group:{key}", user in kept)
                for user in group.whitelisted_members
            ]
        return entries

    def whitelist_add(self, scope: str, user_id: str, *, by: str | None) -> int:
        """Whitelist a member in the defaults or in one group; returns the rules version."""
        document, current = self._editable(scope)
        if user_id in current:
            return self.config.version()
        members = [*current, user_id]
        return self.config.put_scope(scope, _with_members(document, scope, members), by=by)

    def whitelist_remove(self, scope: str, user_id: str, *, by: str | None) -> int:
        document, current = self._editable(scope)
        if user_id not in current:
            raise ModerationError(404, f"{user_id} is not whitelisted in {scope}")
        remaining = [user for user in current if user != user_id]
        return self.config.put_scope(scope, _with_members(document, scope, remaining), by=by)

    def _editable(self, scope: str) -> tuple[dict[str, Any], list[str]]:
        """The scope's stored document (or a copy of what applies now) and its member list."""
        kind, _ = split_scope(scope)
        if kind == "profile":
            raise ModerationError(422, "whitelist members in the defaults or in a group")
        stored = self.config.stored().get(scope)
        if stored is not None:
            document = copy.deepcopy(dict(stored))
            return document, _members(document, kind)
        if kind == DEFAULTS:
            members = list(self.config.loaded().rules.settings.whitelisted_members)
            return {}, members
        document = copy.deepcopy(dict(self.config.file_document(scope) or {}))
        return document, _members(document, kind)

    # -- blacklist ---------------------------------------------------------------------------
    def blacklist(self, *, active_only: bool, limit: int, offset: int) -> list[BlacklistRow]:
        stmt = (
            select(ModerationBlacklist, Member.platform, Member.external_id, Member.name)
            .join(Member, Member.id == ModerationBlacklist.member_id)
            .order_by(ModerationBlacklist.id.desc())
        )
        if active_only:
            stmt = stmt.where(ModerationBlacklist.lifted_at.is_(None))
        return [
            BlacklistRow(*row) for row in self.session.execute(stmt.limit(limit).offset(offset))
        ]

    def blacklist_add(
        self, platform: str, user_id: str, reason: str, *, by: str | None
    ) -> BlacklistRow:
        member = self._member(platform, user_id)
        entry = self.actions.blacklist(member.id, reason, case_id=None, by=by)
        return BlacklistRow(entry, member.platform, member.external_id, member.name)

    def blacklist_lift(self, platform: str, user_id: str, *, by: str | None) -> int:
        member = self._member(platform, user_id)
        lifted = self.actions.lift_blacklist(by=by, member_pk=member.id)
        if not lifted:
            raise ModerationError(404, f"{platform}:{user_id} is not blacklisted")
        return lifted

    def _member(self, platform: str, user_id: str) -> Member:
        member = self.session.scalar(
            select(Member).where(Member.platform == platform, Member.external_id == user_id)
        )
        if member is None:
            raise ModerationError(404, f"unknown member {platform}:{user_id}")
        return member


def _members(document: Any, kind: str) -> list[str]:
    if not isinstance(document, dict):
        return []
    holder = document.get("settings", {}) if kind == DEFAULTS else document
    found = holder.get("whitelisted_members", []) if isinstance(holder, dict) else []
    return [str(user) for user in found] if isinstance(found, list) else []


def _with_members(document: dict[str, Any], scope: str, members: list[str]) -> dict[str, Any]:
    if scope == DEFAULTS:
        settings = dict(document.get("settings") or {})
        settings["whitelisted_members"] = members
        return {**document, "settings": settings}
    return {**document, "whitelisted_members": members}
