"""Levels: thresholds, the next level and its gap, level-ups, the 等级 text."""

from __future__ import annotations

from app.services.levels import (
    level_for,
    level_status,
    level_up,
    level_up_text,
    levels_text,
    privileges,
)
from app.services.points_config import load_points_config

CONFIG = load_points_config()
LEVELS = CONFIG.levels


def test_level_for_a_score() -> None:
    assert [level_for(LEVELS, s).level for s in (0, 99, 100, 499, 500, 10**9)] == [
        1, 1, 2, 2, 3, 5,
    ]  # fmt: skip


def test_status_names_the_next_level_and_the_gap() -> None:
    status = level_status(LEVELS, 420)
    top = level_status(LEVELS, 6000)

    assert (status.current.name, status.next and status.next.name, status.gap) == (
        "含苞", "初绽", 80,
    )  # fmt: skip
    assert (top.next, top.gap) == (None, 0)


def test_level_up_only_when_crossing_upwards() -> None:
    assert level_up(LEVELS, 90, 110) == LEVELS[1]
    assert level_up(LEVELS, 110, 120) is None
    assert level_up(LEVELS, 600, 90) is None


def test_texts_list_privileges() -> None:
    up = level_up_text(CONFIG.texts, "小满", LEVELS[3])
    listing = levels_text(CONFIG.texts, LEVELS, level_status(LEVELS, 150))

    assert up.startswith("🎉 恭喜 小满 升级到 Lv4 盛放！")
    assert "全场花礼 95 折" in up
    assert "Lv1 萌芽（0 积分起）" in listing
    assert listing.endswith("你当前是 Lv2 含苞（150 积分）。")


def test_the_early_access_privilege_is_generated_from_the_minutes() -> None:
    lv4, lv5 = LEVELS[3], LEVELS[4]
    listing = levels_text(CONFIG.texts, LEVELS, level_status(LEVELS, 0))

    assert privileges(CONFIG.texts, lv4) == (
        "全场花礼 95 折",
        "新品花礼优先预订",
        "限时秒杀提前 5 分钟",
    )
    assert privileges(CONFIG.texts, lv5)[-1] == "限时秒杀提前 10 分钟"
    assert privileges(CONFIG.texts, LEVELS[2]) == LEVELS[2].privileges
    assert "限时秒杀提前 5 分钟" in level_up_text(CONFIG.texts, "小满", lv4)
    assert listing.count("限时秒杀提前") == 2
