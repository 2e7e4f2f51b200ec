"""Activity points: a few points per valid group message, with a cooldown and a daily cap.

Runs for every text message in a group (the last route of the pipeline), inside the inbox
worker's transaction. Changes `points_daily` (the member's activity today: points, count and
time of the last award) and, when the message earns, one `points_ledger` entry. Cap and
cooldown are enforced by one conditional upsert of the member's daily row (its row lock
serialises a member's messages), so concurrent workers cannot exceed them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.clock import local_date
from app.filters import strip_mentions
from app.services.points import LedgerResult, PointsService, ledger_key
from app.services.points_config import Rules
from app.services.points_sql import stmt

ACTIVITY = "activity"


def visible_length(text: str) -> int:
    """Characters that count towards the minimum length: mentions and whitespace do not."""
    return sum(1 for char in strip_mentions(text) if not char.isspace())


def award_activity(
    points: PointsService,
    *,
    member_pk: int,
    chat_pk: int,
    text: str,
    source_key: str,
    at: datetime,
    rules: Rules | None = None,
) -> LedgerResult | None:
    """Award activity points for one message; None when it does not qualify."""
    rules = rules or points.rules_for(chat_pk)
    amount = rules.activity_points
    if not rules.activity_enabled or amount <= 0:
        return None
    if visible_length(text) < rules.activity_min_length:
        return None
    key = ledger_key(ACTIVITY, source_key)
    if not _take_daily_slot(points, member_pk, rules, amount, at, key):
        return None
    return points.apply(member_pk, amount, ACTIVITY, key, chat_pk=chat_pk, ref=source_key, at=at)


def _take_daily_slot(
    points: PointsService, member_pk: int, rules: Rules, amount: int, at: datetime, key: str
) -> bool:
    """Count `amount` against today's cap if the cooldown has passed and the message has not
    earned before (ledger `key`); False otherwise."""
    if amount > rules.activity_daily_cap:
        return False
    params = {
        "member_id": member_pk,
        "day": local_date(at, points.tz),
        "kind": ACTIVITY,
        "earned": amount,
        "count": 1,
        "last_at": at,
        "cap": rules.activity_daily_cap,
        "cooled": at - timedelta(seconds=rules.activity_cooldown_seconds),
        "key": key,
    }
    return points.session.execute(stmt(points.session, "take_daily"), params).first() is not None
