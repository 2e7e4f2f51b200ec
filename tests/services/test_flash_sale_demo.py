"""The demo seeder: one sale with 3 items tomorrow 10:00, created once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import FlashSale, FlashSaleItem
from app.db.session import transaction
from app.services.flash_sale_demo import seed_demo_sale
from tests.conftest import SHANGHAI
from tests.flash_sale_helpers import seed_members


def test_the_demo_sale_starts_tomorrow_at_ten_and_is_seeded_once(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    seed_members(session_factory, clock.now(), 2, chat="g-001")

    with transaction(session_factory) as session:
        first = seed_demo_sale(session, now=clock.now(), tz=SHANGHAI)
    with transaction(session_factory) as session:
        second = seed_demo_sale(session, now=clock.now(), tz=SHANGHAI)

    assert (first, second) == (True, False)
    with session_factory() as session:
        sale = session.scalars(select(FlashSale)).one()
        items = session.scalar(select(func.count()).select_from(FlashSaleItem))
    assert sale.starts_at == datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
    assert items == 3


def test_without_the_demo_groups_nothing_is_seeded(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with transaction(session_factory) as session:
        assert seed_demo_sale(session, now=clock.now(), tz=SHANGHAI) is False
