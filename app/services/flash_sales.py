"""Flash-sale claims (`抢<编号>`): decide what a member's claim gets, and take the unit.

Runs inside the inbox worker's transaction (`ctx.services.flash_sales.claim`) and in tests and
the benchmark in a transaction of their own. One indexed query finds the item on sale in the
member's group together with the duplicate check (the message's dedupe key) and the block
list — or, for a batch announced with `expect`, four queries read that for all of the batch's
claims, and the batch's own takes keep it current (another worker's takes are caught by the
take's own conditions, which never trusted a read). Then the checks run in the order a member
would expect: not started (with the countdown), not eligible, sold out (joining the
waitlist), and finally the take. A claim that passed every check for an item without a points
price is held (`claim_later`) and taken with the batch's others at `flush`, the flash-sale
route's finish hook (app/services/flash_sale_take_many.py: one statement per table for the whole
batch, decided in message order under row locks); its reply is decided then. Points-priced
items take their unit at once (app/services/flash_sale_claims.py). Sold-out claims join the
waitlist together at `flush` too, after the takes, in message order
(app/services/flash_sale_waitlist.py). "Started" is per member: a level with flash-sale early
access (config/points.toml `flash_sale_early_minutes`) opens a sale that many minutes early
unless the sale opted out (`early_access`). Only claims before the start read the member's
level, so claims during the sale cost what they did.
Writes: `flash_sale_orders`, `flash_sale_holdings`, `flash_sale_items.stock`,
`flash_sale_waitlist`, the points ledger for points-priced items, and the "仅剩 N 件" /
"已售罄" group announcements (outbox) when a threshold is crossed.
On PostgreSQL a transaction's first claim that writes takes one transaction-wide advisory lock
before any flash-sale row: the inbox worker claims a whole batch of messages in one
transaction, and without a common first lock two batches would take item and member rows in
different orders and deadlock. Claims wait for the item's row lock anyway, so this costs
one statement per batch and no parallelism.
"Blocked" means on the flash-sale block list or on the community blacklist (moderation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import count
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, bindparam, exists, func, or_, select, text, union
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db.models import (
    ChatMember,
    FlashSale,
    FlashSaleBlock,
    FlashSaleChat,
    FlashSaleItem,
    FlashSaleOrder,
    ModerationBlacklist,
)
from app.db.models import FlashSaleHolding as Holding
from app.db.upsert import cached_statement, one_of
from app.services.flash_sale_claims import Take, TakeOutcome, order_by_key, take_unit
from app.services.flash_sale_config import FlashSaleConfig
from app.services.flash_sale_notices import announce_stock
from app.services.flash_sale_take_many import take_many
from app.services.flash_sale_views import (
    ITEM_COLUMNS,
    SALE_COLUMNS,
    ItemView,
    OrderView,
    SaleView,
    from_row,
)
from app.services.flash_sale_waitlist import Join, join_waitlists
from app.services.levels import LevelStatus
from app.services.points import PointsService
from app.services.points_config import Level

ClaimStatus = Literal[
    "claimed",
    "duplicate",
    "not_started",
    "ended",
    "no_sale",
    "unknown_item",
    "not_eligible",
    "sold_out",
    "waitlisted",
    "over_limit",
    "insufficient_points",
]
RECENTLY_ENDED = timedelta(days=1)
CLAIMS_LOCK_KEY = 0x5EC_C1A1  # pg_advisory_xact_lock key shared by every claiming transaction


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """What a claim got; the handler turns it into the reply (flash_sale_notices)."""

    status: ClaimStatus
    sale: SaleView | None = None
    item: ItemView | None = None
    order: OrderView | None = None
    left: int | None = None
    held: int = 0
    position: int = 0
    balance: int = 0
    reason: str = ""  # not_eligible: "blocked" | "level" | "joined"
    level: int = 0  # not_eligible by level: the member's level
    numbers: tuple[int, ...] = ()  # unknown_item: the numbers on sale
    requested: int = 0  # unknown_item: the number the member asked for
    opens_at: datetime | None = None  # not_started: when this member may claim
    early: Level | None = None  # not_started: the member's level when it opens the sale early


@dataclass(frozen=True, slots=True)
class Found:
    """The item on sale in the member's group, and what the claim path needs to know."""

    sale: SaleView
    item: ItemView
    blocked: bool  # the member is on the block list
    duplicate: bool  # an order with this claim key exists
    held: int  # units of the item the member holds


@dataclass(frozen=True, slots=True)
class ExpectedClaim:
    """A claim a batch is about to make (`FlashSaleService.expect`)."""

    chat_pk: int
    member_pk: int
    number: int
    key: str
    at: datetime


@dataclass(frozen=True, slots=True)
class _Pending:
    """A claim whose result waits for `flush`: its take, or its waitlist join (sold out)."""

    seq: int  # message order within the transaction
    found: Found
    work: Take | Join
    then: Callable[[ClaimResult], None]


@dataclass(slots=True)
class _ReadAhead:
    """What a batch's claims need, read once in its transaction; its own takes update it."""

    transaction: object
    earliest: datetime
    keys: frozenset[str]
    offers: dict[tuple[int, int], list[tuple[SaleView, ItemView]]]  # (chat, number), by start
    stock: dict[int, int]
    held: dict[tuple[int, int], int]  # (item, member)
    dups: set[str]
    blocked: set[int]

    def found(
        self, chat_pk: int, number: int, member_pk: int, key: str, at: datetime
    ) -> Found | None:
        for sale, item in self.offers.get((chat_pk, number), ()):
            if sale.ends_at > at:  # the first by start, as `_find_statement` orders them
                return Found(
                    sale,
                    replace(item, stock=self.stock[item.id]),
                    member_pk in self.blocked,
                    key in self.dups,
                    self.held.get((item.id, member_pk), 0),
                )
        return None


# Hot-path statements are built once (bind parameters) and reused: building SQLAlchemy
# expressions per claim cost more than running them.
def _on_sale(*columns: Any) -> Any:
    """Items on sale at :at (scheduled, not ended) with their sale and its chats' ids, the
    first by start first, plus `columns`."""
    sales, items, chats = (m.__table__ for m in (FlashSale, FlashSaleItem, FlashSaleChat))
    return (
        select(chats.c.chat_id.label("chat_pk"), *SALE_COLUMNS, *ITEM_COLUMNS, *columns)
        .select_from(items.join(sales, sales.c.id == items.c.sale_id))
        .join(chats, chats.c.sale_id == sales.c.id)
        .where(sales.c.status == "scheduled", sales.c.ends_at > bindparam("at"))
        .order_by(sales.c.starts_at, sales.c.id)
    )


def _find_statement(_dialect: str) -> Any:
    items, chats = FlashSaleItem.__table__, FlashSaleChat.__table__
    blocks, orders, holdings = (m.__table__ for m in (FlashSaleBlock, FlashSaleOrder, Holding))
    blacklist = ModerationBlacklist.__table__
    member = bindparam("member_pk", type_=Integer())
    blocked = or_(
        exists().where(blocks.c.member_id == member),
        exists().where(blacklist.c.member_id == member, blacklist.c.lifted_at.is_(None)),
    )
    held = (
        select(holdings.c.held)
        .where(holdings.c.item_id == items.c.id, holdings.c.member_id == member)
        .scalar_subquery()
    )
    return (
        _on_sale(
            blocked.label("blocked"),
            exists().where(orders.c.claim_key == bindparam("key")).label("dup"),
            func.coalesce(held, 0).label("held"),
        )
        .where(chats.c.chat_id == bindparam("chat_pk"), items.c.number == bindparam("number"))
        .limit(1)
    )


def _offers_statement(dialect: str) -> Any:
    """The items on sale with given numbers in given chats (a batch's claims)."""
    items, chats = FlashSaleItem.__table__, FlashSaleChat.__table__
    return _on_sale().where(
        one_of(dialect, chats.c.chat_id, "chats"), one_of(dialect, items.c.number, "numbers")
    )


def _held_statement(dialect: str) -> Any:
    return select(Holding.item_id, Holding.member_id, Holding.held).where(
        one_of(dialect, Holding.item_id, "items"), one_of(dialect, Holding.member_id, "members")
    )


def _keys_taken_statement(dialect: str) -> Any:
    return select(FlashSaleOrder.claim_key).where(
        one_of(dialect, FlashSaleOrder.claim_key, "keys")
    )


def _blocked_statement(dialect: str) -> Any:
    """Members on the flash-sale block list or on the community blacklist."""
    return union(
        select(FlashSaleBlock.member_id).where(
            one_of(dialect, FlashSaleBlock.member_id, "members")
        ),
        select(ModerationBlacklist.member_id).where(
            one_of(dialect, ModerationBlacklist.member_id, "blacklisted"),
            ModerationBlacklist.lifted_at.is_(None),
        ),
    )


def _before_opening(
    sale: SaleView, item: ItemView, level: LevelStatus | None, at: datetime
) -> ClaimResult | None:
    """A claim before the start: `not_started` (with the member's own opening time) unless
    the member's level opens the sale early enough; None to go on with the usual checks."""
    minutes = level.current.flash_sale_early_minutes if level is not None else 0
    opens_at = sale.opens_at(timedelta(minutes=minutes))
    if at >= opens_at:
        return None
    early = level.current if level is not None and opens_at < sale.starts_at else None
    return ClaimResult("not_started", sale, item, opens_at=opens_at, early=early)


class FlashSaleService:
    """Per-transaction flash-sale operations members trigger from a chat."""

    def __init__(
        self,
        session: Session,
        points: PointsService,
        config: FlashSaleConfig,
        clock: Clock,
        tz: ZoneInfo,
    ) -> None:
        self.session = session
        self.points = points
        self.config = config
        self.clock = clock
        self.tz = tz
        self._locked_in: object | None = None  # the transaction holding the claims lock
        self._ahead: _ReadAhead | None = None
        self._pending: list[_Pending] = []
        self._sequence = count()

    def expect(self, claims: Sequence[ExpectedClaim]) -> None:
        """Read what these claims need in four queries, for `claim` to use in this
        transaction (the worker calls it before a batch runs)."""
        if not claims:
            return
        earliest = min(claim.at for claim in claims)
        params = {
            "chats": sorted({c.chat_pk for c in claims}),
            "numbers": sorted({c.number for c in claims}),
            "at": earliest,
        }
        offers: dict[tuple[int, int], list[tuple[SaleView, ItemView]]] = {}
        stock: dict[int, int] = {}
        for row in self.session.execute(
            cached_statement(self.session, "flash-offers", _offers_statement), params
        ):
            sale, item = from_row(SaleView, row, "s_"), from_row(ItemView, row, "i_")
            offers.setdefault((row.chat_pk, item.number), []).append((sale, item))
            stock[item.id] = item.stock
        keys = frozenset(claim.key for claim in claims)
        held: dict[tuple[int, int], int] = {}
        dups: set[str] = set()
        blocked: set[int] = set()
        if offers:
            members = sorted({c.member_pk for c in claims})
            rows = self.session.execute(
                cached_statement(self.session, "flash-held", _held_statement),
                {"items": sorted(stock), "members": members},
            )
            held = {(row.item_id, row.member_id): int(row.held) for row in rows}
            dups = set(
                self.session.scalars(
                    cached_statement(self.session, "flash-keys", _keys_taken_statement),
                    {"keys": sorted(keys)},
                )
            )
            blocked = set(
                self.session.scalars(
                    cached_statement(self.session, "flash-blocked", _blocked_statement),
                    {"members": members, "blacklisted": members},
                )
            )
        transaction = self.session.get_transaction()
        self._ahead = _ReadAhead(transaction, earliest, keys, offers, stock, held, dups, blocked)

    def claim(
        self, member_pk: int, chat_pk: int, number: int, *, key: str, at: datetime | None = None
    ) -> ClaimResult:
        """Claim one unit of item `number` on sale in the chat; `key` makes it idempotent
        (the message's dedupe key). `at` is when the member sent it (never later than now)."""
        results: list[ClaimResult] = []
        self.claim_later(member_pk, chat_pk, number, key=key, at=at, then=results.append)
        self.flush()
        return results[0]

    def claim_later(
        self,
        member_pk: int,
        chat_pk: int,
        number: int,
        *,
        key: str,
        then: Callable[[ClaimResult], None],
        at: datetime | None = None,
    ) -> None:
        """`claim`, for a batch: `then` gets the result now, or at `flush` when the claim
        waits for the batch's takes."""
        seq = next(self._sequence)
        decided = self._decide(member_pk, chat_pk, number, key=key, at=at)
        if isinstance(decided, ClaimResult):
            then(decided)
        else:
            self._pending.append(_Pending(seq, *decided, then))

    def flush(self) -> None:
        """Take the units of the held claims, then queue the sold-out ones, each in the order
        they came, and answer them."""
        pending, self._pending = self._pending, []
        takes: list[tuple[_Pending, Take]] = []
        joins: list[tuple[_Pending, Join]] = []
        for claim in pending:
            if isinstance(claim.work, Take):
                takes.append((claim, claim.work))
            else:
                joins.append((claim, claim.work))
        if takes:
            self._lock_claims()
            outcomes = take_many(self.session, [take for _, take in takes])
            for (claim, take), outcome in zip(takes, outcomes, strict=True):
                result = self._taken(claim.found, take, outcome)
                if isinstance(result, ClaimResult):
                    claim.then(result)
                else:
                    joins.append((claim, result[1]))
        if joins:
            joins.sort(key=lambda pair: pair[0].seq)
            self._lock_claims()
            places = join_waitlists(self.session, [join for _, join in joins])
            for (claim, _), place in zip(joins, places, strict=True):
                claim.then(self._waitlisted(claim.found, place))

    def _decide(
        self, member_pk: int, chat_pk: int, number: int, *, key: str, at: datetime | None
    ) -> ClaimResult | tuple[Found, Take | Join]:
        """The claim's result, or what it waits for: the take (items without a points price)
        or the waitlist join (sold out)."""
        now = self.clock.now()
        at = min(at or now, now)
        found = self._lookup(chat_pk, number, member_pk, key, at)
        if found is None:
            return self._not_found(chat_pk, number, at)
        sale, item = found.sale, found.item
        if found.duplicate:
            balance = self.points.account(member_pk).balance if item.points_price else 0
            order = order_by_key(self.session, key)
            return ClaimResult("duplicate", sale, item, order, balance=balance)
        level: LevelStatus | None = None
        if at < sale.starts_at:  # only claims before the start pay for the level lookup
            level = self._early_level(sale, member_pk)
            refusal = _before_opening(sale, item, level, at)
            if refusal is not None:
                return refusal
        refusal = self._eligibility(sale, member_pk, chat_pk, blocked=found.blocked, known=level)
        if refusal is not None:
            return refusal
        if found.held >= item.per_member_limit:
            return ClaimResult("over_limit", sale, item, held=found.held)
        if item.stock <= 0:  # a plain read: sold-out claims never queue on the hot row
            return self._sold_out(found, member_pk, chat_pk, now)
        take = Take(sale, item, member_pk, chat_pk, key, now)
        if not item.points_price:
            return found, take
        self._lock_claims()
        return self._taken(found, take, take_unit(self.session, self.points, take))

    def _taken(
        self, found: Found, take: Take, outcome: TakeOutcome
    ) -> ClaimResult | tuple[Found, Join]:
        """The claim's result once its take ran (announcing the stock left), or its waitlist
        join when another claim took the last unit since our read."""
        sale, item, member_pk, now = found.sale, found.item, take.member_pk, take.now
        self._remember(item, member_pk, take.key, outcome)
        if outcome.status == "sold_out":  # another claim took the last unit since our read
            assert take.chat_pk is not None  # a claim is always made in a chat
            return self._sold_out(found, member_pk, take.chat_pk, now)
        if outcome.status == "taken" and outcome.left is not None:
            announce_stock(self.session, self.config, sale, item, outcome.left, now)
        status: ClaimStatus = "claimed" if outcome.status == "taken" else outcome.status
        return ClaimResult(
            status, sale, item, outcome.order, outcome.left, outcome.held, balance=outcome.balance
        )

    def _lock_claims(self) -> None:
        """PostgreSQL: take the claims lock once per transaction (see the module docstring);
        SQLite has one writer already."""
        transaction = self.session.get_transaction()
        if transaction is None or transaction is self._locked_in:
            return
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CLAIMS_LOCK_KEY})
        self._locked_in = transaction

    # -- lookups ----------------------------------------------------------------------------
    def _lookup(
        self, chat_pk: int, number: int, member_pk: int, key: str, at: datetime
    ) -> Found | None:
        """From the batch's read-ahead when it covers this claim, else one query."""
        ahead = self._ahead
        if (
            ahead is not None
            and key in ahead.keys
            and at >= ahead.earliest
            and ahead.transaction is self.session.get_transaction()
        ):
            return ahead.found(chat_pk, number, member_pk, key, at)
        return self._find(chat_pk, number, member_pk, key, at)

    def _remember(self, item: ItemView, member_pk: int, key: str, outcome: TakeOutcome) -> None:
        """Keep the read-ahead current with what this transaction just did."""
        ahead = self._ahead
        if ahead is None:
            return
        if outcome.status in ("taken", "duplicate"):
            ahead.dups.add(key)
        if outcome.status in ("taken", "over_limit"):
            ahead.held[(item.id, member_pk)] = outcome.held
        if outcome.left is not None:
            ahead.stock[item.id] = outcome.left
        elif outcome.status == "sold_out":
            ahead.stock[item.id] = 0

    def _find(
        self, chat_pk: int, number: int, member_pk: int, key: str, at: datetime
    ) -> Found | None:
        stmt = cached_statement(self.session, "flash-find", _find_statement)
        params = {"chat_pk": chat_pk, "number": number, "member_pk": member_pk, "key": key}
        row = self.session.execute(stmt, {**params, "at": at}).one_or_none()
        if row is None:
            return None
        return Found(
            from_row(SaleView, row, "s_"),
            from_row(ItemView, row, "i_"),
            bool(row.blocked),
            bool(row.dup),
            int(row.held),
        )

    def _not_found(self, chat_pk: int, number: int, at: datetime) -> ClaimResult:
        """No such item on sale here: another item number, an ended sale, or no sale."""
        sales = select(*SALE_COLUMNS).join(FlashSaleChat, FlashSaleChat.sale_id == FlashSale.id)
        sales = sales.where(FlashSaleChat.chat_id == chat_pk, FlashSale.status == "scheduled")
        current = self.session.execute(
            sales.where(FlashSale.ends_at > at).order_by(FlashSale.starts_at).limit(1)
        ).one_or_none()
        if current is not None:
            sale = from_row(SaleView, current, "s_")
            numbers = self.session.scalars(
                select(FlashSaleItem.number)
                .where(FlashSaleItem.sale_id == sale.id)
                .order_by(FlashSaleItem.number)
            ).all()
            return ClaimResult("unknown_item", sale, numbers=tuple(numbers), requested=number)
        ended = self.session.execute(
            sales.where(FlashSale.ends_at > at - RECENTLY_ENDED)
            .order_by(FlashSale.ends_at.desc())
            .limit(1)
        ).one_or_none()
        if ended is not None:
            return ClaimResult("ended", from_row(SaleView, ended, "s_"))
        return ClaimResult("no_sale")

    # -- checks -----------------------------------------------------------------------------
    def _early_level(self, sale: SaleView, member_pk: int) -> LevelStatus | None:
        """The member's level, read only when it could open the sale early for them (some
        level has early access and the sale did not opt out). One primary-key read of the
        member's points account (`level_status`); the level itself is pure arithmetic."""
        if not sale.early_access or not self.points.config.flash_sale_early_lead:
            return None
        return self.points.level_status(member_pk)

    def _eligibility(
        self,
        sale: SaleView,
        member_pk: int,
        chat_pk: int,
        *,
        blocked: bool,
        known: LevelStatus | None = None,
    ) -> ClaimResult | None:
        """Who may claim; `known` is the member's level if an early claim has read it."""
        if sale.exclude_blocked and blocked:
            return ClaimResult("not_eligible", sale, reason="blocked")
        if sale.min_level is not None:
            level = (known or self.points.level_status(member_pk)).current.level
            if level < sale.min_level:
                return ClaimResult("not_eligible", sale, reason="level", level=level)
        if sale.joined_before is not None:
            joined = self._joined_at(chat_pk, member_pk)
            if joined is None or joined >= sale.joined_before:
                return ClaimResult("not_eligible", sale, reason="joined")
        return None

    def _joined_at(self, chat_pk: int, member_pk: int) -> datetime | None:
        """When the member joined the group (or was first seen there, if no join event)."""
        row = self.session.execute(
            select(ChatMember.joined_at, ChatMember.first_seen_at).where(
                ChatMember.chat_id == chat_pk, ChatMember.member_id == member_pk
            )
        ).one_or_none()
        if row is None:
            return None
        joined: datetime | None = row.joined_at or row.first_seen_at
        return joined

    # -- sold out and the waitlist ----------------------------------------------------------
    def _sold_out(
        self, found: Found, member_pk: int, chat_pk: int, now: datetime
    ) -> ClaimResult | tuple[Found, Join]:
        """Sold out, or (when the sale has a waitlist) the join that `flush` makes."""
        sale, item = found.sale, found.item
        if not sale.waitlist:
            return ClaimResult("sold_out", sale, item, left=0, held=found.held)
        return found, Join(sale.id, item.id, member_pk, chat_pk, now)

    @staticmethod
    def _waitlisted(found: Found, place: int) -> ClaimResult:
        """A sold-out claim's result once it joined: its place, or sold out (place 0: its
        earlier place was already used)."""
        sale, item = found.sale, found.item
        if place == 0:
            return ClaimResult("sold_out", sale, item, left=0, held=found.held)
        return ClaimResult("waitlisted", sale, item, left=0, held=found.held, position=place)
