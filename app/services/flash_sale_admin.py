"""Flash-sale administration: create, edit (until it opens), cancel; announcements; results.

Runs in the admin API's transaction (and the demo seeder's, and the release job's for the
results). Changes `flash_sales`, `flash_sale_chats`, `flash_sale_items`, cancels pending orders
of a cancelled sale (app/services/flash_sale_orders.py), and keeps the sale's calendar
announcements (T-24h, T-1h, T-10min, start with the item list; those before the start name
the levels' early access unless the sale opted out) in step through
`CampaignAnnouncements.sync`: moving a sale moves its pending announcements, cancelling it
cancels them. The results are posted to the sale's groups once, when it has ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.db.models import FlashSale, FlashSaleChat, FlashSaleItem, FlashSaleOrder
from app.db.models import FlashSaleWaitlist as Waitlist
from app.services.campaigns import AnnouncementTemplate, CampaignAnnouncements
from app.services.flash_sale_config import FlashSaleConfig
from app.services.flash_sale_notices import early_access_line, item_lines, post_to_sale_chats
from app.services.flash_sale_orders import OrderContext, close_order
from app.services.flash_sale_views import ITEM_COLUMNS, SALE_COLUMNS, ItemView, SaleView, from_row
from app.services.points_config import PointsConfig, load_points_config

ACTIVE = ("pending", "paid")


class SaleNotFound(LookupError):
    pass


class SaleStateError(Exception):
    """The sale cannot change this way now (started, cancelled)."""


@dataclass(frozen=True, slots=True)
class ItemInput:
    number: int
    name: str
    price_cents: int
    stock: int
    per_member_limit: int = 1
    points_price: int | None = None
    image_url: str | None = None
    link_url: str | None = None


@dataclass(frozen=True, slots=True)
class SaleInput:
    name: str
    chat_pks: tuple[int, ...]
    starts_at: datetime
    ends_at: datetime
    items: tuple[ItemInput, ...]
    payment_window_minutes: int
    min_level: int | None = None
    joined_before: datetime | None = None
    exclude_blocked: bool = True
    waitlist: bool = True
    early_access: bool = True


@dataclass(frozen=True, slots=True)
class ItemStats:
    item: ItemView
    claimed: int  # units in pending or paid orders
    paid: int
    pending: int


def campaign_key(sale_id: int) -> str:
    return f"flash_sale:{sale_id}"


def check_input(data: SaleInput, now: datetime) -> None:
    """Cross-field rules; ValueError with the reason."""
    if data.ends_at <= data.starts_at:
        raise ValueError("ends_at must be after starts_at")
    if data.ends_at <= now:
        raise ValueError("ends_at is in the past")
    if not data.chat_pks:
        raise ValueError("a sale needs at least one group")
    numbers = [item.number for item in data.items]
    if not numbers or len(set(numbers)) != len(numbers):
        raise ValueError("a sale needs items with distinct numbers")
    for item in data.items:
        if item.price_cents == 0 and not item.points_price:
            raise ValueError(f"item {item.number}: give a price or a points price")


class FlashSaleAdmin:
    def __init__(
        self,
        session: Session,
        config: FlashSaleConfig,
        *,
        tz: tzinfo,
        now: datetime,
        points_config: PointsConfig | None = None,
    ) -> None:
        self.session = session
        self.config = config
        self.tz = tz
        self.now = now
        # The levels' early access (config/points.toml when not given): announcements and
        # the status depend on it.
        self.points_config = load_points_config() if points_config is None else points_config

    # -- reads ------------------------------------------------------------------------------
    def sale(self, sale_id: int) -> SaleView:
        row = self.session.execute(
            select(*SALE_COLUMNS).where(FlashSale.id == sale_id)
        ).one_or_none()
        if row is None:
            raise SaleNotFound(sale_id)
        return from_row(SaleView, row, "s_")

    def status(self, sale: SaleView) -> str:
        """The sale's phase now: scheduled, early_access (levels with early access may claim),
        running, ended or cancelled."""
        return sale.phase(self.now, early_lead=self.points_config.flash_sale_early_lead)

    def sale_ids(self, *, limit: int, offset: int) -> list[int]:
        return list(
            self.session.scalars(
                select(FlashSale.id).order_by(FlashSale.starts_at.desc(), FlashSale.id.desc())
                .limit(limit).offset(offset)
            )
        )  # fmt: skip

    def items(self, sale_id: int) -> list[ItemView]:
        rows = self.session.execute(
            select(*ITEM_COLUMNS)
            .where(FlashSaleItem.sale_id == sale_id)
            .order_by(FlashSaleItem.number)
        ).all()
        return [from_row(ItemView, row, "i_") for row in rows]

    def chat_pks(self, sale_id: int) -> list[int]:
        return list(
            self.session.scalars(
                select(FlashSaleChat.chat_id)
                .where(FlashSaleChat.sale_id == sale_id)
                .order_by(FlashSaleChat.chat_id)
            )
        )

    def item_stats(self, sale_id: int) -> list[ItemStats]:
        """Live stock and claim counts per item."""
        counts: dict[tuple[int, str], int] = {
            (int(item_id), str(status)): int(n)
            for item_id, status, n in self.session.execute(
                select(FlashSaleOrder.item_id, FlashSaleOrder.status, func.count())
                .where(FlashSaleOrder.sale_id == sale_id, FlashSaleOrder.status.in_(ACTIVE))
                .group_by(FlashSaleOrder.item_id, FlashSaleOrder.status)
            )
        }
        stats = []
        for item in self.items(sale_id):
            paid, pending = counts.get((item.id, "paid"), 0), counts.get((item.id, "pending"), 0)
            stats.append(ItemStats(item, paid + pending, paid, pending))
        return stats

    # -- changes ----------------------------------------------------------------------------
    def create(self, data: SaleInput, *, created_by: str | None = None) -> int:
        check_input(data, self.now)
        sale = FlashSale(
            name=data.name,
            status="scheduled",
            created_by=created_by,
            created_at=self.now,
            **self._fields(data),
        )
        self.session.add(sale)
        self.session.flush()
        self._replace_chats_and_items(sale.id, data)
        self.sync_announcements(sale.id)
        return sale.id

    def edit(self, sale_id: int, data: SaleInput, *, early_lead: timedelta | None = None) -> None:
        """Change anything until the sale opens — its start, or `early_lead` (the longest
        flash-sale early access of any level, from the points config unless given) before it
        when the sale has early access, since claims may exist from then on; SaleStateError
        after that."""
        if early_lead is None:
            early_lead = self.points_config.flash_sale_early_lead
        current = self.sale(sale_id)
        if current.status == "cancelled":
            raise SaleStateError("the sale is cancelled")
        if self.now >= current.opens_at(early_lead):
            raise SaleStateError(
                "a sale can only be edited before it starts (or early access opens)"
            )
        check_input(data, self.now)
        self.session.execute(
            update(FlashSale)
            .where(FlashSale.id == sale_id)
            .values(name=data.name, **self._fields(data))
            .execution_options(synchronize_session=False)
        )
        self._replace_chats_and_items(sale_id, data)
        self.sync_announcements(sale_id)

    def cancel(self, ctx: OrderContext, sale_id: int, *, operator: str | None) -> int:
        """Cancel the sale: no more claims, pending orders cancelled (points refunded, units
        back to stock), waitlist closed, pending announcements withdrawn. Returns the number
        of orders cancelled; paid orders stay (refunds happen outside Qunyun)."""
        sale = self.sale(sale_id)
        if sale.status == "cancelled":
            raise SaleStateError("the sale is already cancelled")
        self.session.execute(
            update(FlashSale)
            .where(FlashSale.id == sale_id)
            .values(status="cancelled", cancelled_at=self.now, updated_at=self.now)
            .execution_options(synchronize_session=False)
        )
        self.session.execute(
            update(Waitlist)
            .where(Waitlist.sale_id == sale_id, Waitlist.status == "waiting")
            .values(status="closed")
            .execution_options(synchronize_session=False)
        )
        pending = self.session.scalars(
            select(FlashSaleOrder.id).where(
                FlashSaleOrder.sale_id == sale_id, FlashSaleOrder.status == "pending"
            )
        ).all()
        note = "sale cancelled"
        closed = [close_order(self.session, ctx, o, "cancelled", operator=operator, note=note)
                  for o in pending]  # fmt: skip
        self._sync(sale, [])
        return sum(1 for c in closed if c is not None)

    def sync_announcements(self, sale_id: int) -> None:
        sale = self.sale(sale_id)
        lines = item_lines(self.config, self.items(sale_id))
        early = (
            early_access_line(self.config, self.points_config.levels) if sale.early_access else ""
        )
        templates = self.config.templates(lines, sale.payment_window_minutes, early_access=early)
        self._sync(sale, templates)

    def _sync(self, sale: SaleView, templates: Sequence[AnnouncementTemplate]) -> None:
        CampaignAnnouncements.sync(
            self.session,
            campaign_key(sale.id),
            sale.starts_at,
            sale.ends_at,
            templates,
            self.chat_pks(sale.id),
            now=self.now,
            tz=self.tz,
            name=sale.name,
        )

    def _fields(self, data: SaleInput) -> dict[str, object]:
        return {
            "starts_at": data.starts_at,
            "ends_at": data.ends_at,
            "payment_window_minutes": data.payment_window_minutes,
            "min_level": data.min_level,
            "joined_before": data.joined_before,
            "exclude_blocked": data.exclude_blocked,
            "waitlist": data.waitlist,
            "early_access": data.early_access,
            "updated_at": self.now,
        }

    def _replace_chats_and_items(self, sale_id: int, data: SaleInput) -> None:
        # Only before the start: no order, holding or waitlist entry can point at an item yet.
        self.session.execute(delete(FlashSaleChat).where(FlashSaleChat.sale_id == sale_id))
        self.session.execute(delete(FlashSaleItem).where(FlashSaleItem.sale_id == sale_id))
        self.session.add_all(FlashSaleChat(sale_id=sale_id, chat_id=pk) for pk in data.chat_pks)
        self.session.add_all(
            FlashSaleItem(sale_id=sale_id, total=item.stock, **_item_fields(item))
            for item in data.items
        )
        self.session.flush()

    # -- results ----------------------------------------------------------------------------
    def post_results(self, sale_id: int, *, grace: timedelta) -> bool:
        """Once per sale, after it ended: the results to its groups (or only recorded when
        the end is longer ago than `grace`). True when this call posted them."""
        claimed_now = self.session.execute(
            update(FlashSale)
            .where(FlashSale.id == sale_id, FlashSale.results_sent_at.is_(None))
            .values(results_sent_at=self.now)
            .returning(FlashSale.ends_at)
            .execution_options(synchronize_session=False)
        ).first()
        if claimed_now is None or self.now - claimed_now.ends_at > grace:
            return False
        sale, stats = self.sale(sale_id), self.item_stats(sale_id)
        text = self.config.texts.render(
            "results",
            sale=sale.name,
            lines="\n".join(self._result_line(s) for s in stats),
            claimed=sum(s.claimed for s in stats),
            total=sum(s.item.total for s in stats),
            winners=self._winner_count(sale_id),
        )
        post_to_sale_chats(
            self.session, sale_id, text, key=f"flash:{sale_id}:results", now=self.now
        )
        return True

    def _result_line(self, stats: ItemStats) -> str:
        return self.config.texts.render(
            "result_line",
            number=stats.item.number,
            item=stats.item.name,
            claimed=stats.claimed,
            total=stats.item.total,
        )

    def _winner_count(self, sale_id: int) -> int:
        return int(
            self.session.scalar(
                select(func.count(func.distinct(FlashSaleOrder.member_id))).where(
                    FlashSaleOrder.sale_id == sale_id, FlashSaleOrder.status.in_(ACTIVE)
                )
            )
            or 0
        )


def _item_fields(item: ItemInput) -> dict[str, object]:
    return {
        "number": item.number,
        "name": item.name,
        "price_cents": item.price_cents,
        "points_price": item.points_price,
        "stock": item.stock,
        "per_member_limit": item.per_member_limit,
        "image_url": item.image_url,
        "link_url": item.link_url,
    }
