"""config/points.toml: the shipped file loads; mistakes are refused with the reason."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.services.points_config import (
    POINTS_CONFIG_PATH,
    parse_points_config,
    streak_bonus,
)

SHIPPED = POINTS_CONFIG_PATH.read_text(encoding="utf-8")


def test_the_shipped_config_gives_every_group_checkin() -> None:
    config = parse_points_config(SHIPPED)

    assert config.rules.checkin_enabled
    assert config.rules.checkin_points > 0
    assert config.rules_for(profile=None, group_key="bridge:g-unknown") == config.rules
    assert "今天已签到" in config.texts.templates["checkin_again"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("{name} 签到成功", "{nmae} 签到成功"), "unknown placeholders"),
        (("threshold = 100", "threshold = 0"), "strictly increasing"),
        (
            (
                "[profiles.core]\nactivity_daily_cap = 60",
                "[profiles.core]\nactivity_daily_cap = -1",
            ),
            "greater than or equal",
        ),
        (("checkin_points = 10", "checkin_pionts = 10"), "checkin_pionts"),
        (('"7" = 20', '"0" = 20'), "streak bonus day"),
        (("flash_sale_early_minutes = 5", "flash_sale_early_minutes = -5"), "greater than"),
        (("flash_sale_early_minutes = 10", "flash_sale_early_minutes = 1441"), "less than"),
        (("flash_sale_early_minutes = 5", "flash_sale_early_minutes = 2.5"), "integer"),
        (('95 折", "新品花礼优先预订"]', '95 折", "限时秒杀提前 5 分钟"]'), "Lv4 lists"),
        (('"线下花艺沙龙免费名额"]', '"限时秒杀提前10分钟", "线下花艺沙龙免费名额"]'), "by hand"),
    ],
)
def test_mistakes_are_refused(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in SHIPPED

    with pytest.raises(ValueError, match=message):
        parse_points_config(SHIPPED.replace(old, new, 1))


def test_levels_grant_flash_sale_early_access_in_minutes() -> None:
    config = parse_points_config(SHIPPED)

    assert [lv.flash_sale_early_minutes for lv in config.levels] == [0, 0, 0, 5, 10]
    assert config.flash_sale_early_lead == timedelta(minutes=10)


def test_a_privilege_that_only_resembles_early_access_is_kept() -> None:
    text = SHIPPED.replace('95 折", "新品花礼优先预订"]', '95 折", "限时秒杀提前 5 分钟通知"]', 1)

    config = parse_points_config(text)

    assert "限时秒杀提前 5 分钟通知" in config.levels[3].privileges


def test_streak_bonus_days_and_repeats() -> None:
    bonuses = {7: 20, 30: 100}

    assert [streak_bonus(bonuses, d, repeat=True) for d in (6, 7, 14, 30, 210)] == [
        0, 20, 20, 100, 120,
    ]  # fmt: skip
    assert streak_bonus(bonuses, 14, repeat=False) == 0
