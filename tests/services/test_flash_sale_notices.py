"""Flash-sale text helpers: countdowns, prices, the item list and the early-access line of
announcements."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.services.flash_sale_config import load_flash_sale_config
from app.services.flash_sale_notices import (
    countdown,
    early_access_line,
    item_lines,
    price_part,
    price_text,
)
from app.services.flash_sale_views import ItemView, money, parse_money
from app.services.points_config import Level, load_points_config


def _levels(*minutes: int) -> tuple[Level, ...]:
    """The shipped levels (Lv1-Lv5) with these flash_sale_early_minutes."""
    shipped = load_points_config().levels
    return tuple(
        level.model_copy(update={"flash_sale_early_minutes": m})
        for level, m in zip(shipped, minutes, strict=True)
    )


def _item(price_cents: int = 2990, points: int | None = None) -> ItemView:
    return ItemView(1, 1, 3, "红玫瑰", price_cents, points, 100, 100, 2, None, None)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=2, hours=3, minutes=5), "2 天 3 小时"),
        (timedelta(hours=1, minutes=5, seconds=9), "1 小时 5 分"),
        (timedelta(minutes=9, seconds=30), "9 分 30 秒"),
        (timedelta(seconds=12), "12 秒"),
        (timedelta(milliseconds=300), "1 秒"),
    ],
)
def test_countdown(delta: timedelta, text: str) -> None:
    assert countdown(load_flash_sale_config(), delta) == text


def test_prices() -> None:
    config = load_flash_sale_config()

    assert price_text(_item()) == "¥29.90"
    assert price_text(_item(0, 200)) == "200 积分"
    assert price_text(_item(990, 20)) == "¥9.90 + 20 积分"
    assert price_part(config, _item(990, 20)) == "¥9.90 + 20 积分（积分已扣除）"
    assert item_lines(config, [_item()]) == "3号 红玫瑰 ¥29.90，限量 100 件，每人限 2 件"


@pytest.mark.parametrize(
    ("text", "cents"), [("29.90", 2990), ("29.9", 2990), ("0", 0), ("7", 700)]
)
def test_money_round_trips(text: str, cents: int) -> None:
    assert parse_money(text) == cents
    assert parse_money(money(cents)) == cents


@pytest.mark.parametrize("text", ["29.999", "-1", "1e3", "", "29,90"])
def test_bad_money_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="decimal string"):
        parse_money(text)


def test_the_early_access_line_follows_the_shipped_levels() -> None:
    levels = load_points_config().levels
    assert [lv.flash_sale_early_minutes for lv in levels] == [0, 0, 0, 5, 10]

    line = early_access_line(load_flash_sale_config(), levels)

    assert line == "\nLv4 及以上会员可提前 5 分钟开抢，Lv5 提前 10 分钟。"


@pytest.mark.parametrize(
    ("minutes", "line"),
    [
        ((0, 3, 3, 3, 8), "\nLv2 及以上会员可提前 3 分钟开抢，Lv5 提前 8 分钟。"),
        ((0, 0, 0, 0, 15), "\nLv5 及以上会员可提前 15 分钟开抢。"),
        ((0, 0, 2, 4, 6), "\nLv3 及以上会员可提前 2 分钟开抢，Lv4 提前 4 分钟，Lv5 提前 6 分钟。"),
        ((0, 0, 0, 10, 5), "\nLv4 及以上会员可提前 10 分钟开抢，Lv5 提前 5 分钟。"),
        ((0, 0, 0, 0, 0), ""),
    ],
)
def test_the_early_access_line_takes_its_numbers_from_the_levels(
    minutes: tuple[int, ...], line: str
) -> None:
    assert early_access_line(load_flash_sale_config(), _levels(*minutes)) == line
