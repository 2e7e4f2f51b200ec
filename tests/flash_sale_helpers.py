"""Helpers for the flash-sale tests: seed members and a sale, claim in a transaction, check the
never-oversold invariants, run work in real threads released together by a barrier."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.db.models import FlashSaleHolding, FlashSaleItem, FlashSaleOrder
from app.db.session import transaction
from app.messages import ChatRef, Platform, Role
from app.services.flash_sale_admin import FlashSaleAdmin, ItemInput, SaleInput
from app.services.flash_sale_config import load_flash_sale_config
from app.services.flash_sales import ClaimResult, FlashSaleService
from app.services.members import MembersService
from app.services.points import PointsService
from app.services.points_config import load_points_config
from tests.conftest import SHANGHAI

Factory = sessionmaker[Session]
T = TypeVar("T")
R = TypeVar("R")
START = datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # 30 min after the test clock's NOW


def seed_members(
    factory: Factory, at: datetime, count: int, *, chat: str = "g-001", prefix: str = "u"
) -> tuple[int, list[int]]:
    """`count` bridge members present in one bridge group; (chats.id, [members.id, ...])."""
    with transaction(factory) as session:
        members = MembersService(session)
        chat_pk = members.ensure_chat(ChatRef(Platform.BRIDGE, chat, True, "花屿会员群"), now=at)
        pks = []
        for i in range(count):
            pk = members.ensure_member(
                "bridge", f"{prefix}-{i:04d}", name=f"会员{i}", role=Role.MEMBER, now=at
            )
            members.touch(chat_pk, pk, now=at, counts=False)
            pks.append(pk)
    return chat_pk, pks


def item(number: int = 1, stock: int = 100, **kw: Any) -> ItemInput:
    values: dict[str, Any] = {"name": f"{number}号花束", "price_cents": 2990}
    values.update(kw)
    return ItemInput(number=number, stock=stock, **values)


def create_sale(
    factory: Factory,
    clock: Clock,
    chat_pks: Sequence[int],
    items: Sequence[ItemInput] = (),
    *,
    starts_at: datetime = START,
    hours: float = 2,
    **kw: Any,
) -> int:
    data = SaleInput(
        name=kw.pop("name", "周末秒杀"),
        chat_pks=tuple(chat_pks),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=hours),
        items=tuple(items) or (item(),),
        payment_window_minutes=kw.pop("payment_window_minutes", 15),
        **kw,
    )
    with transaction(factory) as session:
        admin = FlashSaleAdmin(session, load_flash_sale_config(), tz=SHANGHAI, now=clock.now())
        return admin.create(data)


def service(session: Session, clock: Clock) -> FlashSaleService:
    points = PointsService(session, load_points_config(), clock, SHANGHAI)
    return FlashSaleService(session, points, load_flash_sale_config(), clock, SHANGHAI)


def claim(
    factory: Factory,
    clock: Clock,
    member_pk: int,
    chat_pk: int,
    number: int = 1,
    *,
    key: str | None = None,
    at: datetime | None = None,
) -> ClaimResult:
    """One claim in its own transaction, as the inbox worker would run it."""
    with transaction(factory) as session:
        return service(session, clock).claim(
            member_pk, chat_pk, number, key=key or f"k-{member_pk}-{clock.now()}", at=at
        )


def stock_of(factory: Factory, sale_id: int, number: int = 1) -> int:
    with factory() as session:
        value = session.scalar(
            select(FlashSaleItem.stock).where(
                FlashSaleItem.sale_id == sale_id, FlashSaleItem.number == number
            )
        )
    assert value is not None
    return int(value)


def orders(factory: Factory, sale_id: int, *statuses: str) -> list[FlashSaleOrder]:
    stmt = select(FlashSaleOrder).where(FlashSaleOrder.sale_id == sale_id)
    if statuses:
        stmt = stmt.where(FlashSaleOrder.status.in_(statuses))
    with factory() as session:
        return list(session.scalars(stmt.order_by(FlashSaleOrder.id)))


def assert_never_oversold(factory: Factory, sale_id: int) -> None:
    """stock >= 0; stock + units in pending/paid orders == total; holdings match the
    orders and stay within each item's per-member limit."""
    with factory() as session:
        for it in session.scalars(select(FlashSaleItem).where(FlashSaleItem.sale_id == sale_id)):
            active = session.execute(
                select(FlashSaleOrder.member_id, func.count())
                .where(
                    FlashSaleOrder.item_id == it.id,
                    FlashSaleOrder.status.in_(("pending", "paid")),
                )
                .group_by(FlashSaleOrder.member_id)
            ).all()
            per_member = {int(m): int(n) for m, n in active}
            held = {
                int(h.member_id): int(h.held)
                for h in session.scalars(
                    select(FlashSaleHolding).where(
                        FlashSaleHolding.item_id == it.id, FlashSaleHolding.held > 0
                    )
                )
            }
            assert it.stock >= 0
            assert it.stock + sum(per_member.values()) == it.total
            assert held == per_member
            assert all(n <= it.per_member_limit for n in per_member.values())


def run_together(work: Sequence[T], threads: int, call: Callable[[T], R]) -> list[R]:
    """Run `call` over `work` in `threads` real threads that start together (a barrier, no
    sleeps); results in the order of `work`."""
    barrier = threading.Barrier(threads, timeout=60)
    slices = [list(range(i, len(work), threads)) for i in range(threads)]
    results: list[Any] = [None] * len(work)

    def one(indexes: list[int]) -> None:
        barrier.wait()
        for index in indexes:
            results[index] = call(work[index])

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(one, s) for s in slices]:
            future.result()
    return results
