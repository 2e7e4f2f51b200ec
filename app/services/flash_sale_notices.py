"""Flash-sale messages outside the member's own reply: group announcements and member notices.

Runs inside the caller's transaction (the claim, the release job, the admin API) and only
writes outbox rows, each under an idempotent key, so a crossed threshold or a released order
is announced once however often the code path runs:
- `flash:<sale>:<item>:left:<N>:<chat>` — "仅剩 N 件" when an item's stock drops to N;
- `flash:<sale>:<item>:soldout:<chat>` — "已售罄" when it reaches 0;
- `flash:<sale>:results:<chat>` — the results when the sale ends;
- `flash:order:<id>:<event>` — a member told their order was released, offered or cancelled.
Group posts take the same route as scheduled posts (a bound group robot wins, customer groups
need a staff member); member notices @-mention the member in the group they claimed in.
Also the text helpers those messages share (prices, deadlines, countdowns, item lists, the
early-access line of the announcements before the start).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Chat, FlashSaleChat
from app.outbox import enqueue
from app.services.campaigns import local_label
from app.services.flash_sale_config import FlashSaleConfig
from app.services.flash_sale_views import ItemView, SaleView, money
from app.services.points_config import Level
from app.services.points_notices import notify_member
from app.services.posts import DeliveryNotes, PostContent, RobotKeys, drafts_for, route_for


@lru_cache(maxsize=1)
def announcement_routing() -> tuple[RobotKeys, DeliveryNotes]:
    """The groups' robot keys and delivery notes, from the scheduler's config (read once)."""
    # Imported here: the scheduler registry imports app.services, which imports this module.
    from app.jobs.registry import load_scheduler_config

    config = load_scheduler_config()
    return config.robot_keys(), config.texts.notes()


def post_to_sale_chats(
    session: Session, sale_id: int, text: str, *, key: str, now: datetime
) -> int:
    """Queue `text` for every group of the sale; returns the rows queued (0 when repeated)."""
    chats = session.scalars(
        select(Chat)
        .join(FlashSaleChat, FlashSaleChat.chat_id == Chat.id)
        .where(FlashSaleChat.sale_id == sale_id)
        .order_by(Chat.id)
    ).all()
    robots, notes = announcement_routing()
    drafts = []
    for chat in chats:
        route = route_for(chat, robots, notes)
        content = PostContent("text", text=text)
        drafts += drafts_for(content, chat, route, key=f"{key}:{chat.id}", now=now)
    return len(enqueue(session, drafts, now=now))


def announce_stock(
    session: Session,
    config: FlashSaleConfig,
    sale: SaleView,
    item: ItemView,
    left: int,
    now: datetime,
) -> None:
    """After a unit was taken: announce "仅剩 N 件" at a threshold, "已售罄" at zero."""
    base = f"flash:{sale.id}:{item.number}"
    if left == 0:
        text = config.texts.render(
            "sold_out_notice",
            number=item.number,
            item=item.name,
            payment_minutes=sale.payment_window_minutes,
        )
        post_to_sale_chats(session, sale.id, text, key=f"{base}:soldout", now=now)
    elif left in config.left_thresholds and left < item.total:
        text = config.texts.render("left", number=item.number, item=item.name, left=left)
        post_to_sale_chats(session, sale.id, text, key=f"{base}:left:{left}", now=now)


def notify(
    session: Session, *, member_pk: int, chat_pk: int | None, text: str, key: str, now: datetime
) -> bool:
    """@-mention the member in the group (their latest group when `chat_pk` is None)."""
    if not text.strip():
        return False
    return notify_member(
        session, member_pk=member_pk, text=text, key=key, now=now, chat_pk=chat_pk
    )


# -- text helpers -------------------------------------------------------------------------------
def when(at: datetime, tz: tzinfo) -> str:
    """12月1日 10:15 — how members see a time."""
    return local_label(at, tz)


def price_text(item: ItemView) -> str:
    """¥29.90, ¥29.90 + 100 积分, or 100 积分."""
    if item.points_price and not item.price_cents:
        return f"{item.points_price} 积分"
    if item.points_price:
        return f"¥{money(item.price_cents)} + {item.points_price} 积分"
    return f"¥{money(item.price_cents)}"


def price_part(config: FlashSaleConfig, item: ItemView) -> str:
    price = money(item.price_cents)
    if item.points_price:
        return config.texts.render("price_money_points", price=price, points=item.points_price)
    return config.texts.render("price_money", price=price)


def countdown(config: FlashSaleConfig, delta: timedelta) -> str:
    """3 天 2 小时 / 2 小时 5 分 / 9 分 30 秒 / 12 秒."""
    total = max(1, int(delta.total_seconds()))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    texts = config.texts
    if days:
        return texts.render("countdown_days", days=days, hours=hours)
    if hours:
        return texts.render("countdown_hours", hours=hours, minutes=minutes)
    if minutes:
        return texts.render("countdown_minutes", minutes=minutes, seconds=seconds)
    return texts.render("countdown_seconds", seconds=seconds)


def item_lines(config: FlashSaleConfig, items: Sequence[ItemView]) -> str:
    """The item list of announcements, one line per item."""
    return "\n".join(
        config.texts.render(
            "item_line",
            number=item.number,
            item=item.name,
            price_text=price_text(item),
            total=item.total,
            limit=item.per_member_limit,
        )
        for item in items
    )


def early_access_line(config: FlashSaleConfig, levels: Sequence[Level]) -> str:
    """Which levels claim how early ("Lv4 及以上会员可提前 5 分钟开抢，Lv5 提前 10 分钟。"), from
    their `flash_sale_early_minutes`; "" when no level claims early. `levels` lowest first."""
    steps: list[Level] = []
    previous = 0
    for level in levels:
        minutes = level.flash_sale_early_minutes
        # A level is named where its minutes differ from the level below it, so the line
        # stays true even for a level that gets fewer minutes than the one below.
        if minutes != previous and (steps or minutes):
            steps.append(level)
        previous = minutes
    if not steps:
        return ""
    first, *higher = steps
    texts = config.texts
    more = "".join(
        texts.render(
            "early_access_more",
            level=level.level,
            level_name=level.name,
            minutes=level.flash_sale_early_minutes,
        )
        for level in higher
    )
    return texts.render(
        "early_access_line",
        level=first.level,
        level_name=first.name,
        minutes=first.flash_sale_early_minutes,
        more=more,
    )
