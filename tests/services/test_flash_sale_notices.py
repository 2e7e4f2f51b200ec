"""Flash-sale text helpers: countdowns, prices, the item list of announcements."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.services.flash_sale_config import load_flash_sale_config
from app.services.flash_sale_notices import countdown, item_lines, price_part, price_text
from app.services.flash_sale_views import ItemView, money, parse_money


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
