"""The member side of the group rules: 群规, 我的违规 and 申诉 <理由>.

Runs inside the inbox worker's transaction (app/handlers/rules_commands.py). 群规 and 我的违规
only read; 申诉 writes a `moderation_appeals` row for the member's latest case and queues a
notice to the staff. Texts come from the `[texts]` section of the moderation rules (zh-CN).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.db.models import ModerationCase
from app.messages import InboundMessage
from app.moderation.texts import ModerationTexts
from app.services.moderation import ModerationService
from app.services.moderation_cases import member_cases

RECENT_DAYS = 30
MAX_LISTED = 5


def group_rules_text(service: ModerationService, message: InboundMessage, chat_pk: int) -> str:
    """The rules text of the chat's scope (its own, its profile's, or the default)."""
    loaded = service.config.loaded()
    if message.is_group:
        rules = service.rules_for_chat(loaded, chat_pk, message)
    else:
        rules = loaded.scope(())
    return rules.settings.group_rules_text or loaded.rules.texts.group_rules


def my_cases_text(service: ModerationService, member_pk: int, now: datetime) -> str:
    """The member's cases of the last 30 days, newest first (at most five)."""
    texts = service.config.loaded().rules.texts
    since = now - timedelta(days=RECENT_DAYS)
    cases = member_cases(service.session, member_pk, since=since, limit=MAX_LISTED)
    if not cases:
        return texts.my_cases_empty
    lines = [texts.my_cases_title]
    lines += [_case_line(service, texts, case) for case in cases]
    lines.append(texts.my_cases_footer)
    return "\n".join(line for line in lines if line)


def appeal_text(
    service: ModerationService,
    message: InboundMessage,
    ids: tuple[int, int],
    reason: str,
    now: datetime,
) -> str:
    """Open an appeal against the member's latest case and say what happened.

    `ids` are (chats.id, members.id) of the chat the command came from and the member.
    """
    chat_pk, member_pk = ids
    loaded = service.config.loaded()
    texts = loaded.rules.texts
    if not reason.strip():
        return texts.appeal_usage
    since = now - timedelta(days=RECENT_DAYS)
    result = service.review.open_appeal(member_pk, reason.strip(), since=since)
    if result.case is None:
        return texts.appeal_nothing
    if result.status == "duplicate":
        return texts.render("appeal_duplicate", case_id=result.case.id)
    scope = service.rules_for_chat(loaded, chat_pk, message) if message.is_group else None
    notify_ids = (scope or loaded.scope(())).settings.notify_user_ids
    notice = texts.render(
        "notify_appeal",
        case_id=result.case.id,
        member=message.sender_name or message.sender_id,
        user_id=message.sender_id,
        reason=reason.strip()[:300],
    )
    assert result.appeal is not None
    service.actions.notify(f"appeal:{result.appeal.id}", notice, notify_ids)
    return texts.render("appeal_received", case_id=result.case.id)


def _case_line(service: ModerationService, texts: ModerationTexts, case: ModerationCase) -> str:
    rules = service.config.loaded().rules.for_chat(None)
    rule = rules.rule(case.rule)
    rule_text = (rule.text if rule is not None else "") or texts.default_rule_text
    return texts.render(
        "my_cases_line",
        case_id=case.id,
        time=case.created_at.astimezone(service.tz).strftime("%m-%d %H:%M"),
        category=texts.category(case.category),
        rule_text=rule_text,
        action=texts.action_names(case.actions),
        status=texts.statuses.get(case.status, case.status),
    )
