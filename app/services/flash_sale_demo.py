"""`qunyun demo` seeder: a demo flash sale with 3 items, tomorrow 10:00–12:00 community time.

Runs once in the demo command's transaction after the demo groups exist; idempotent (a sale
with the demo name is left alone). Creates the sale, its items and its announcements.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import SystemClock, local_date
from app.db.models import Chat, FlashSale
from app.services.flash_sale_admin import FlashSaleAdmin, ItemInput, SaleInput
from app.services.flash_sale_config import load_flash_sale_config
from app.settings import get_settings

DEMO_SALE_NAME = "花屿周末限时秒杀（演示）"
DEMO_CHATS = ("g-001", "g-002")
DEMO_ITEMS = (
    ItemInput(1, "11 枝红玫瑰花束", 2990, stock=100, per_member_limit=1),
    ItemInput(2, "向日葵小花束", 1990, stock=50, per_member_limit=2),
    ItemInput(3, "多肉小盆栽（积分兑换）", 0, stock=30, per_member_limit=1, points_price=200),
)


def seed_demo_sale(
    session: Session, *, now: datetime | None = None, tz: ZoneInfo | None = None
) -> bool:
    """Create the demo sale unless it exists; True when created."""
    if session.scalar(select(FlashSale.id).where(FlashSale.name == DEMO_SALE_NAME)) is not None:
        return False
    now = now or SystemClock().now()
    tz = tz or get_settings().tz
    chat_pks = tuple(
        session.scalars(
            select(Chat.id)
            .where(Chat.platform == "bridge", Chat.external_id.in_(DEMO_CHATS))
            .order_by(Chat.id)
        )
    )
    if not chat_pks:
        return False
    starts_at = datetime.combine(local_date(now, tz) + timedelta(days=1), time(10), tz)
    config = load_flash_sale_config()
    data = SaleInput(
        name=DEMO_SALE_NAME,
        chat_pks=chat_pks,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        items=DEMO_ITEMS,
        payment_window_minutes=config.payment_window_minutes,
    )
    FlashSaleAdmin(session, config, tz=tz, now=now).create(data, created_by="demo")
    return True


def seed_demo(session: Session) -> None:
    """The `SEEDERS` entry (app/cli/demo.py)."""
    seed_demo_sale(session)
