"""The reply to a member's `抢<编号>`: one zh-CN text per claim outcome (config/flash_sale.toml).

Pure functions over a `ClaimResult`; no database access.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from app.services.flash_sale_config import FlashSaleConfig
from app.services.flash_sale_notices import countdown, price_part, when
from app.services.flash_sale_views import ItemView, OrderView, SaleView
from app.services.flash_sales import ClaimResult


def reply_text(
    config: FlashSaleConfig, result: ClaimResult, *, name: str, now: datetime, tz: tzinfo
) -> str:
    texts = config.texts
    sale, item = result.sale, result.item
    if sale is None:
        return texts.render("no_sale", name=name)
    match result.status:
        case "not_started":
            return _not_started(config, result, sale, name, now, tz)
        case "ended":
            return texts.render("ended", name=name, sale=sale.name)
        case "unknown_item":
            numbers = "、".join(str(n) for n in result.numbers) or "—"
            return texts.render(
                "unknown_item", name=name, number=result.requested, numbers=numbers
            )
        case "not_eligible":
            return _not_eligible(config, result, sale, name, tz)
    assert item is not None
    return _item_reply(config, result, sale, item, name, tz)


def _not_started(
    config: FlashSaleConfig,
    result: ClaimResult,
    sale: SaleView,
    name: str,
    now: datetime,
    tz: tzinfo,
) -> str:
    """The countdown to the member's own start: earlier when their level opens sales early."""
    opens_at = result.opens_at or sale.starts_at
    values: dict[str, object] = {
        "name": name,
        "sale": sale.name,
        "starts_at": when(sale.starts_at, tz),
        "countdown": countdown(config, opens_at - now),
    }
    early = result.early
    if early is None:
        return config.texts.render("not_started", **values)
    return config.texts.render(
        "not_started_early",
        opens_at=when(opens_at, tz),
        level=early.level,
        level_name=early.name,
        minutes=early.flash_sale_early_minutes,
        **values,
    )


def _item_reply(
    config: FlashSaleConfig,
    result: ClaimResult,
    sale: SaleView,
    item: ItemView,
    name: str,
    tz: tzinfo,
) -> str:
    texts = config.texts
    values: dict[str, object] = {"name": name, "number": item.number, "item": item.name}
    match result.status:
        case "claimed" | "duplicate" if result.order is not None:
            return claimed_text(config, sale, item, result.order, name, tz, result.balance)
        case "waitlisted":
            return texts.render("waitlisted", position=result.position, **values)
        case "over_limit":
            return texts.render(
                "over_limit", limit=item.per_member_limit, held=result.held, **values
            )
        case "insufficient_points":
            return texts.render(
                "insufficient_points", points=item.points_price, balance=result.balance, **values
            )
        case _:
            return texts.render("sold_out", **values)


def claimed_text(
    config: FlashSaleConfig,
    sale: SaleView,
    item: ItemView,
    order: OrderView,
    name: str,
    tz: tzinfo,
    balance: int = 0,
    *,
    offered: bool = False,
) -> str:
    """ "抢到啦" (or "候补成功" for a waitlist offer) with the payment link and deadline."""
    values: dict[str, object] = {"name": name, "number": item.number, "item": item.name}
    if order.pay_deadline is None:
        key = "offered_done" if offered else "claimed_done"
        extra: dict[str, object] = {"points": order.points_spent}
        if not offered:
            extra["balance"] = balance
        return config.texts.render(key, **values, **extra)
    link = config.pay_link(order_id=order.id, sale_id=sale.id, number=item.number)
    return config.texts.render(
        "offered" if offered else "claimed",
        price_part=price_part(config, item),
        deadline=when(order.pay_deadline, tz),
        pay_link=link,
        **values,
    )


def _not_eligible(
    config: FlashSaleConfig, result: ClaimResult, sale: SaleView, name: str, tz: tzinfo
) -> str:
    texts = config.texts
    if result.reason == "level" and sale.min_level is not None:
        return texts.render(
            "not_eligible_level", name=name, level=sale.min_level, current=result.level
        )
    if result.reason == "joined" and sale.joined_before is not None:
        return texts.render("not_eligible_joined", name=name, date=when(sale.joined_before, tz))
    return texts.render("not_eligible_blocked", name=name)
