"""config/flash_sale.toml: the shipped file loads; mistakes fail at start with the reason."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.services.flash_sale_config import (
    FLASH_SALE_CONFIG_PATH,
    load_flash_sale_config,
    parse_flash_sale_config,
)

SHIPPED = FLASH_SALE_CONFIG_PATH.read_text(encoding="utf-8")


def test_the_shipped_config_loads() -> None:
    config = load_flash_sale_config()

    assert config.aliases == ("抢", "秒杀", "抢购")
    assert config.payment_window_minutes == 15
    assert [a.offset for a in config.announcements] == ["-24h", "-1h", "-10m", "0"]
    assert config.pay_link(order_id=7, sale_id=1, number=3).endswith("order=7")


def test_templates_fill_the_item_list_and_keep_calendar_placeholders() -> None:
    config = load_flash_sale_config()

    start = config.templates("3号 {玫瑰}", 15)[-1]

    assert start.offset == timedelta(0)
    assert "{name}" in start.text
    assert "3号 {{玫瑰}}" in start.text  # escaped for the calendar's own formatting
    assert "15 分钟内付款" in start.text


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("{item} ×1", "{itme} ×1", "unknown placeholders"),
        ("payment_window_minutes = 15", "payment_window_minutes = 0", "payment_window_minutes"),
        ('aliases = ["抢", "秒杀", "抢购"]', 'aliases = ["抢1"]', "aliases"),
        ("?order={order_id}", "?order={order}", "payment_link"),
        ('offset = "-10m"', 'offset = "soon"', "offset"),
        ("sold_out = ", "sold_gone = ", "missing sold_out"),
    ],
)
def test_mistakes_are_refused(old: str, new: str, reason: str) -> None:
    assert old in SHIPPED

    with pytest.raises(ValueError, match=reason):
        parse_flash_sale_config(SHIPPED.replace(old, new, 1))
