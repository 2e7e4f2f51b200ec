"""Sale administration: announcements follow the sale and name the levels' early access, edits
replace items, cancel cleans up, the status shows the early-access window."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import FlashSaleWaitlist
from app.db.session import transaction
from app.services.campaigns import CampaignAnnouncements
from app.services.flash_sale_admin import (
    FlashSaleAdmin,
    SaleInput,
    SaleStateError,
    campaign_key,
    check_input,
)
from app.services.flash_sale_config import load_flash_sale_config
from app.services.flash_sale_orders import OrderContext
from app.services.points_config import PointsConfig, load_points_config
from tests.conftest import SHANGHAI
from tests.flash_sale_helpers import START, claim, create_sale, item, seed_members, stock_of
from tests.flash_sale_helpers import service as flash_service

Factory = sessionmaker[Session]
LEAD = load_points_config().flash_sale_early_lead  # Lv5 claims 10 minutes early
LATER = START + timedelta(days=2)  # all four announcements are still ahead of the test clock
EARLY_LINE = "\nLv4 及以上会员可提前 5 分钟开抢，Lv5 提前 10 分钟。"  # config/points.toml


def _admin(
    session: Session, clock: FixedClock, points: PointsConfig | None = None
) -> FlashSaleAdmin:
    return FlashSaleAdmin(
        session, load_flash_sale_config(), tz=SHANGHAI, now=clock.now(), points_config=points
    )


def _points_with_early_minutes(*minutes: int) -> PointsConfig:
    """The shipped points config with these flash_sale_early_minutes for Lv1-Lv5."""
    shipped = load_points_config()
    levels = tuple(
        level.model_copy(update={"flash_sale_early_minutes": m})
        for level, m in zip(shipped.levels, minutes, strict=True)
    )
    return shipped.model_copy(update={"levels": levels})


def _texts(factory: Factory, sale: int) -> dict[str, str]:
    with factory() as session:
        rows = CampaignAnnouncements.announcements(session, campaign_key(sale))
        return {a.template_key: str(p.content["text"]) for a, p in rows}


def _announcements(factory: Factory, sale: int) -> list[tuple[str, str]]:
    with factory() as session:
        rows = CampaignAnnouncements.announcements(session, campaign_key(sale))
        return [(a.template_key, p.status) for a, p in rows]


def test_announcements_already_due_are_skipped_and_the_start_lists_the_items(
    session_factory: Factory, clock: FixedClock
) -> None:
    chat, _ = seed_members(session_factory, clock.now(), 1)

    sale = create_sale(session_factory, clock, [chat], [item(1, name="红玫瑰")])

    assert _announcements(session_factory, sale) == [
        ("flash_reminder_10m", "scheduled"),
        ("flash_start", "scheduled"),
    ]
    with session_factory() as session:
        posts = dict(CampaignAnnouncements.announcements(session, campaign_key(sale)))
    start = next(post for a, post in posts.items() if a.template_key == "flash_start")
    assert "1号 红玫瑰 ¥29.90，限量 100 件，每人限 1 件" in start.content["text"]
    assert start.content["text"].startswith("【秒杀开始】「周末秒杀」开抢啦！")


def test_an_edit_before_the_start_replaces_items_and_groups(
    session_factory: Factory, clock: FixedClock
) -> None:
    chat, _ = seed_members(session_factory, clock.now(), 1)
    other, _ = seed_members(session_factory, clock.now(), 1, chat="g-002", prefix="o")
    sale = create_sale(session_factory, clock, [chat])
    with transaction(session_factory) as session:
        admin = _admin(session, clock)
        current = admin.sale(sale)
        data = SaleInput(
            current.name, (other,), current.starts_at, current.ends_at,
            (item(7, stock=30),), 20,
        )  # fmt: skip
        admin.edit(sale, data, early_lead=LEAD)

    with session_factory() as session:
        admin = _admin(session, clock)
        assert [(i.number, i.stock, i.total) for i in admin.items(sale)] == [(7, 30, 30)]
        assert admin.chat_pks(sale) == [other]
        assert admin.sale(sale).payment_window_minutes == 20


def test_a_cancelled_sale_cannot_be_edited_or_cancelled_again(
    session_factory: Factory, clock: FixedClock
) -> None:
    chat, members = seed_members(session_factory, clock.now(), 3)
    sale = create_sale(session_factory, clock, [chat], [item(1, stock=1)])
    clock.set(START)
    claim(session_factory, clock, members[0], chat)
    claim(session_factory, clock, members[1], chat)  # waitlisted
    with transaction(session_factory) as session:
        admin = _admin(session, clock)
        ctx = OrderContext(
            flash_service(session, clock).points, admin.config, SHANGHAI, clock.now()
        )
        assert admin.cancel(ctx, sale, operator="admin") == 1

    with transaction(session_factory) as session:
        admin = _admin(session, clock)
        with pytest.raises(SaleStateError, match="cancelled"):
            admin.edit(sale, replace_sale(admin, sale), early_lead=LEAD)
    with session_factory() as session:
        statuses = set(session.scalars(select(FlashSaleWaitlist.status)))
    assert statuses == {"closed"}
    assert stock_of(session_factory, sale) == 1


@pytest.mark.parametrize(("early_access", "refused"), [(True, True), (False, False)])
def test_edits_stop_when_early_access_opens_the_sale(
    early_access: bool, refused: bool, session_factory: Factory, clock: FixedClock
) -> None:
    chat, _ = seed_members(session_factory, clock.now(), 1)
    sale = create_sale(session_factory, clock, [chat], early_access=early_access)
    clock.set(START - LEAD)

    with transaction(session_factory) as session:
        admin = _admin(session, clock)
        if refused:
            with pytest.raises(SaleStateError, match="early access"):
                admin.edit(sale, replace_sale(admin, sale), early_lead=LEAD)
        else:
            admin.edit(sale, replace_sale(admin, sale), early_lead=LEAD)

    with session_factory() as session:
        assert _admin(session, clock).sale(sale).early_access is early_access


def test_announcements_before_the_start_name_the_levels_early_access(
    session_factory: Factory, clock: FixedClock
) -> None:
    chat, _ = seed_members(session_factory, clock.now(), 1)

    sale = create_sale(session_factory, clock, [chat], starts_at=LATER)
    opted_out = create_sale(session_factory, clock, [chat], starts_at=LATER, early_access=False)

    texts, plain = _texts(session_factory, sale), _texts(session_factory, opted_out)
    assert [key for key, text in texts.items() if text.endswith(EARLY_LINE)] == [
        "flash_preview_24h",
        "flash_reminder_1h",
        "flash_reminder_10m",
    ]
    assert "提前" not in texts["flash_start"]
    assert not any("提前" in text for text in plain.values())
    assert {key: text.removesuffix(EARLY_LINE) for key, text in texts.items()} == plain
    assert plain["flash_reminder_1h"] == (
        "【秒杀提醒】「周末秒杀」还有 1 小时开抢（11月25日 10:00），记得定好闹钟～"
    )


def test_switching_early_access_off_takes_the_line_out_of_pending_announcements(
    session_factory: Factory, clock: FixedClock
) -> None:
    chat, _ = seed_members(session_factory, clock.now(), 1)
    sale = create_sale(session_factory, clock, [chat], starts_at=LATER)

    with transaction(session_factory) as session:
        admin = _admin(session, clock)
        admin.edit(sale, replace(replace_sale(admin, sale), early_access=False), early_lead=LEAD)

    texts = _texts(session_factory, sale)
    assert len(texts) == 4
    assert not any("提前" in text for text in texts.values())


@pytest.mark.parametrize(
    ("minutes", "line", "statuses"),
    [
        (
            (0, 0, 3, 3, 8),
            "\nLv3 及以上会员可提前 3 分钟开抢，Lv5 提前 8 分钟。",
            ["scheduled", "early_access", "early_access", "running"],
        ),
        ((0, 0, 0, 0, 0), None, ["scheduled", "scheduled", "scheduled", "running"]),
    ],
)
def test_the_line_and_the_status_follow_the_levels_minutes(
    minutes: tuple[int, ...],
    line: str | None,
    statuses: list[str],
    session_factory: Factory,
    clock: FixedClock,
) -> None:
    points = _points_with_early_minutes(*minutes)
    chat, _ = seed_members(session_factory, clock.now(), 1)
    with transaction(session_factory) as session:
        admin = _admin(session, clock, points)
        sale = admin.create(
            SaleInput("周末秒杀", (chat,), LATER, LATER + timedelta(hours=2), (item(1),), 15)
        )

    texts = _texts(session_factory, sale)
    early = [key for key, text in texts.items() if "提前" in text]
    if line is None:
        assert early == []
    else:
        assert early == ["flash_preview_24h", "flash_reminder_1h", "flash_reminder_10m"]
        assert texts["flash_reminder_10m"].endswith(line)
    eight_before = LATER - timedelta(minutes=8)
    times = [
        eight_before - timedelta(seconds=1),
        eight_before,
        LATER - timedelta(seconds=1),
        LATER,
    ]
    assert _statuses(session_factory, clock, sale, points, times) == statuses


@pytest.mark.parametrize(
    ("at", "status", "opted_out_status"),
    [
        (START - LEAD - timedelta(seconds=1), "scheduled", "scheduled"),
        (START - LEAD, "early_access", "scheduled"),
        (START - timedelta(seconds=1), "early_access", "scheduled"),
        (START, "running", "running"),
        (START + timedelta(hours=2), "ended", "ended"),
    ],
)
def test_the_status_is_early_access_from_the_longest_lead_until_the_start(
    at: datetime,
    status: str,
    opted_out_status: str,
    session_factory: Factory,
    clock: FixedClock,
) -> None:
    chat, _ = seed_members(session_factory, clock.now(), 1)
    sale = create_sale(session_factory, clock, [chat])
    opted_out = create_sale(session_factory, clock, [chat], early_access=False)

    points = load_points_config()
    assert _statuses(session_factory, clock, sale, points, [at]) == [status]
    assert _statuses(session_factory, clock, opted_out, points, [at]) == [opted_out_status]


def test_a_cancelled_sale_shows_cancelled_in_the_early_access_window(
    session_factory: Factory, clock: FixedClock
) -> None:
    chat, _ = seed_members(session_factory, clock.now(), 1)
    sale = create_sale(session_factory, clock, [chat])
    with transaction(session_factory) as session:
        admin = _admin(session, clock)
        ctx = OrderContext(
            flash_service(session, clock).points, admin.config, SHANGHAI, clock.now()
        )
        admin.cancel(ctx, sale, operator="admin")

    statuses = _statuses(session_factory, clock, sale, load_points_config(), [START - LEAD])
    assert statuses == ["cancelled"]


def _statuses(
    factory: Factory, clock: FixedClock, sale: int, points: PointsConfig, times: list[datetime]
) -> list[str]:
    """The sale's status as the admin API shows it, at each of `times`."""
    seen = []
    for at in times:
        clock.set(at)
        with factory() as session:
            admin = _admin(session, clock, points)
            seen.append(admin.status(admin.sale(sale)))
    return seen


def replace_sale(admin: FlashSaleAdmin, sale_id: int) -> SaleInput:
    current = admin.sale(sale_id)
    return SaleInput(
        current.name, tuple(admin.chat_pks(sale_id)), current.starts_at,
        current.ends_at + timedelta(hours=1), (item(1),), 15,
        early_access=current.early_access,
    )  # fmt: skip


def test_check_input_rules(clock: FixedClock) -> None:
    good = SaleInput("s", (1,), START, START + timedelta(hours=1), (item(1),), 15)

    check_input(good, clock.now())
    with pytest.raises(ValueError, match="after starts_at"):
        check_input(replace(good, ends_at=START), clock.now())
    with pytest.raises(ValueError, match="past"):
        check_input(good, START + timedelta(hours=2))
    with pytest.raises(ValueError, match="at least one group"):
        check_input(replace(good, chat_pks=()), clock.now())
    with pytest.raises(ValueError, match="distinct numbers"):
        check_input(replace(good, items=(item(1), item(1))), clock.now())
    with pytest.raises(ValueError, match="price"):
        check_input(replace(good, items=(item(1, price_cents=0),)), clock.now())
