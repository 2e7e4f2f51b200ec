"""Levels (等级) and their privileges: pure functions over the configured thresholds.

No database access; the ledger reports a level-up when an entry moves a member's level score
(lifetime earned points, or the balance, as config/points.toml says) across a threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.services.points_config import Level, PointsTexts


@dataclass(frozen=True, slots=True)
class LevelStatus:
    """Where a member stands: the current level, the next one and the points still missing."""

    score: int
    current: Level
    next: Level | None

    @property
    def gap(self) -> int:
        return 0 if self.next is None else max(0, self.next.threshold - self.score)


def level_for(levels: Sequence[Level], score: int) -> Level:
    """The highest level whose threshold the score reaches (levels are sorted ascending)."""
    current = levels[0]
    for level in levels:
        if score >= level.threshold:
            current = level
    return current


def level_status(levels: Sequence[Level], score: int) -> LevelStatus:
    current = level_for(levels, score)
    higher = [level for level in levels if level.threshold > current.threshold]
    return LevelStatus(score=score, current=current, next=higher[0] if higher else None)


def level_up(levels: Sequence[Level], before: int, after: int) -> Level | None:
    """The new level when a score change crosses a threshold upwards; None otherwise."""
    old, new = level_for(levels, before), level_for(levels, after)
    return new if new.threshold > old.threshold else None


def privileges(texts: PointsTexts, level: Level) -> tuple[str, ...]:
    """The level's privileges as members read them: the configured lines, then the flash-sale
    early access. That line is generated from `flash_sale_early_minutes` rather than checked
    against a hand-written text: one number is the only source, so the text and what a claim
    allows cannot disagree (config validation refuses a hand-written copy)."""
    if not level.flash_sale_early_minutes:
        return level.privileges
    early = texts.render("flash_sale_early_privilege", minutes=level.flash_sale_early_minutes)
    return (*level.privileges, early)


def privileges_text(texts: PointsTexts, level: Level) -> str:
    items = privileges(texts, level)
    if not items:
        return ""
    return texts.render("privileges_part", items="、".join(items))


def level_up_text(texts: PointsTexts, name: str, level: Level) -> str:
    return texts.render(
        "level_up",
        name=name,
        level=level.level,
        level_name=level.name,
        privileges=privileges_text(texts, level),
    ).strip()


def levels_text(texts: PointsTexts, levels: Sequence[Level], status: LevelStatus) -> str:
    """The `等级` answer: every level with its privileges, then the member's own."""
    lines = [texts.render("levels_header")]
    for level in levels:
        line = texts.render(
            "level_line",
            level=level.level,
            level_name=level.name,
            threshold=level.threshold,
            privileges=privileges_text(texts, level),
        )
        lines.append(line.rstrip())
    lines.append(
        texts.render(
            "levels_footer",
            level=status.current.level,
            level_name=status.current.name,
            score=status.score,
        )
    )
    return "\n".join(lines)
