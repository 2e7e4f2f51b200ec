"""Helpers the points handlers share: who is asking and when the message counts.

No state, no database access.
"""

from __future__ import annotations

from datetime import datetime

from app.pipeline import Context

DEFAULT_NAME = "你"


def member_name(ctx: Context) -> str:
    return (ctx.message.sender_name or "").strip() or DEFAULT_NAME


def event_time(ctx: Context) -> datetime:
    """When the member sent it (so 23:59:59 counts for that day even if processed after
    midnight), but never later than now: a sender's clock cannot pre-date a future day."""
    return min(ctx.message.sent_at, ctx.now)
