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

    *before, start = config.templates("3号 {玫瑰}", 15, early_access="\nLv{4} 提前")

    assert start.offset == timedelta(0)
    assert "{name}" in start.text
    assert "3号 {{玫瑰}}" in start.text  # escaped for the calendar's own formatting
    assert "15 分钟内付款" in start.text
    assert [t.key for t in before if t.text.endswith("\nLv{{4}} 提前")] == [
        "flash_preview_24h",
        "flash_reminder_1h",
        "flash_reminder_10m",
    ]
    assert "提前" not in start.text


def test_an_item_named_like_a_placeholder_is_not_filled_in_again() -> None:
    config = load_flash_sale_config()

    preview = config.templates("{early_access}", 15, early_access="\n早")[0]

    assert preview.text.count("早") == 1
    assert "{{early_access}}" in preview.text


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("{item} ×1", "{itme} ×1", "unknown placeholders"),
        ("payment_window_minutes = 15", "payment_window_minutes = 0", "payment_window_minutes"),
        ('aliases = ["抢", "秒杀", "抢购"]', 'aliases = ["抢1"]', "aliases"),
        ("?order={order_id}", "?order={order}", "payment_link"),
        ('offset = "-10m"', 'offset = "soon"', "offset"),
        ("sold_out = ", "sold_gone = ", "missing sold_out"),
        ("分钟开抢{more}。", "分钟开抢{more}{starts_at}。", "early_access_line"),
        ("例如「抢1」。{early_access}", "例如「抢1」。{early}", "unknown placeholders"),
    ],
)
def test_mistakes_are_refused(old: str, new: str, reason: str) -> None:
    assert old in SHIPPED

    with pytest.raises(ValueError, match=reason):
        parse_flash_sale_config(SHIPPED.replace(old, new, 1))
