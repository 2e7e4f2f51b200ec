"""Release unpaid flash-sale orders on time, and post the results of sales that ended.

Run by the scheduler every `release_interval_seconds` (config/flash_sale.toml) and once at
start. Each pending order whose payment deadline has passed is released in its own
transaction (app/services/flash_sale_orders.py): the conditional status update makes a second
run, a second scheduler or a payment confirmed meanwhile change nothing; the unit goes to the
first eligible member on the waitlist (a new pending order, and they are told) or back to
stock, points spent are refunded, and the member hears that their claim was released. Then
every ended sale gets its results posted to its groups once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock, FixedClock
from app.db.models import FlashSale, FlashSaleOrder
from app.db.session import transaction
from app.jobs.registry import JobContext, JobSpec
from app.services.flash_sale_admin import FlashSaleAdmin
from app.services.flash_sale_config import load_flash_sale_config
from app.services.flash_sale_orders import OrderContext, close_order
from app.services.points import PointsService
from app.services.points_config import load_points_config
from app.settings import Settings

log = logging.getLogger(__name__)
BATCH = 500


@dataclass
class ReleaseReport:
    released: int = 0
    offered: int = 0  # of those, handed to a waiting member
    restocked: int = 0
    results_posted: int = 0
    failed: int = 0


def release_expired_orders(
    session_factory: sessionmaker[Session], clock: Clock, settings: Settings
) -> ReleaseReport:
    """Release every order unpaid past its deadline, then post results of ended sales."""
    report = ReleaseReport()
    now = clock.now()
    seen: set[int] = set()
    while True:
        due = [order_id for order_id in _due_orders(session_factory, now) if order_id not in seen]
        if not due:
            break
        for order_id in due:
            seen.add(order_id)
            _release_one(session_factory, settings, now, order_id, report)
    _post_results(session_factory, settings, now, report)
    return report


def _due_orders(session_factory: sessionmaker[Session], now: datetime) -> list[int]:
    with session_factory() as session:
        return list(
            session.scalars(
                select(FlashSaleOrder.id)
                .where(FlashSaleOrder.status == "pending", FlashSaleOrder.pay_deadline <= now)
                .order_by(FlashSaleOrder.pay_deadline, FlashSaleOrder.id)
                .limit(BATCH)
            )
        )


def _release_one(
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    order_id: int,
    report: ReleaseReport,
) -> None:
    try:
        with transaction(session_factory) as session:
            points = PointsService(session, load_points_config(), FixedClock(now), settings.tz)
            ctx = OrderContext(points, load_flash_sale_config(), settings.tz, now)
            closed = close_order(session, ctx, order_id, "released", operator="release_job")
    except Exception:
        log.exception("flash-sale release failed", extra={"order_id": order_id})
        report.failed += 1
        return
    if closed is None:
        return  # paid or closed meanwhile
    report.released += 1
    if closed.offered_to is None:
        report.restocked += 1
    else:
        report.offered += 1


def _post_results(
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    report: ReleaseReport,
) -> None:
    config = load_flash_sale_config()
    with session_factory() as session:
        ended = list(
            session.scalars(
                select(FlashSale.id).where(
                    FlashSale.status == "scheduled",
                    FlashSale.ends_at <= now,
                    FlashSale.results_sent_at.is_(None),
                )
            )
        )
    grace = timedelta(hours=config.results_grace_hours)
    for sale_id in ended:
        with transaction(session_factory) as session:
            admin = FlashSaleAdmin(session, config, tz=settings.tz, now=now)
            if admin.post_results(sale_id, grace=grace):
                report.results_posted += 1


def run(ctx: JobContext) -> ReleaseReport:
    return release_expired_orders(ctx.factory, ctx.clock, ctx.deps.settings)


SPEC = JobSpec(
    id="flash_sale.release_unpaid",
    run=run,
    trigger=lambda config, tz: IntervalTrigger(
        seconds=load_flash_sale_config().release_interval_seconds, timezone=tz
    ),
    description="Release unpaid flash-sale orders to the waitlist or stock; post sale results",
    run_at_start=True,
    misfire_grace_seconds=60,
)
