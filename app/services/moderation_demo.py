"""Demo data for the group rules (`qunyun demo`): a 'core' group and one reviewable case.

Runs once per `qunyun demo`, in its transaction, after the demo groups and members exist.
Idempotent: the group scope is stored only when none is, and the case has a fixed message key.
Stores group:g-001 = {"profile": "core"} (moves the rules version) and, for 木木 in g-002, an open
case judged by the real checker — no warning or notice is queued for it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import SystemClock
from app.db.models import Chat, Member
from app.moderation.cache import RulesCache
from app.services.moderation_cases import NewCase, open_case
from app.services.moderation_config import ModerationConfigService, group_scope

CORE_GROUP = "g-001"
DEMO_KEY = "demo:moderation:1"
DEMO_TEXT = "想要同款花材的姐妹加 V 信 rose_garden8，批发价"


def seed_demo_moderation(session: Session) -> None:
    config = ModerationConfigService(session, RulesCache(), SystemClock())
    scope = group_scope("bridge", CORE_GROUP)
    if config.stored().get(scope) is None:
        config.put_scope(scope, {"profile": "core"}, by="demo")
    chat_pk = session.scalar(
        select(Chat.id).where(Chat.platform == "bridge", Chat.external_id == "g-002")
    )
    member_pk = session.scalar(
        select(Member.id).where(Member.platform == "bridge", Member.external_id == "u-003")
    )
    if chat_pk is None or member_pk is None:
        return
    rules = config.scope_rules("bridge", "g-002")
    verdict = config.loaded().checker(rules).check(DEMO_TEXT)
    if not verdict.hits:
        return
    primary = verdict.hits[0]
    rule = rules.rule(primary.rule)
    new = NewCase(
        message_key=DEMO_KEY,
        chat_pk=chat_pk,
        member_pk=member_pk,
        kind="text",
        text=DEMO_TEXT,
        normalized=verdict.normalized,
        primary=primary,
        hits=verdict.hits,
        ladder=rule.ladder if rule is not None else "",
        at=config.clock.now(),
    )
    case, created = open_case(session, new)
    if created:
        case.actions = ["warn"]
