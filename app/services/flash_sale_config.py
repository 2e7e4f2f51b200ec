"""Flash-sale settings from config/flash_sale.toml: claim aliases, payment window and link,
stock thresholds, announcement templates, member-facing texts and the admins' payment alerts
(zh-CN).

Loaded once per process (`load_flash_sale_config`); nothing here touches the database. A typo
in a placeholder fails at start, not in a group.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.services.campaigns import AnnouncementTemplate, parse_offset
from app.services.texts import TemplateTexts, placeholders
from app.settings import CONFIG_DIR

FLASH_SALE_CONFIG_PATH = CONFIG_DIR / "flash_sale.toml"

_MEMBER = frozenset({"name", "number", "item"})
_PAYMENT = frozenset({"order_id", "sale", "number", "item", "name", "amount", "payment_ref"})
TEXT_FIELDS: dict[str, frozenset[str]] = {
    "claimed": _MEMBER | {"price_part", "deadline", "pay_link"},
    "claimed_done": _MEMBER | {"points", "balance"},
    "price_money": frozenset({"price"}),
    "price_money_points": frozenset({"price", "points"}),
    "sold_out": _MEMBER,
    "waitlisted": _MEMBER | {"position"},
    "not_started": frozenset({"name", "sale", "starts_at", "countdown"}),
    "not_started_early": frozenset(
        {"name", "sale", "starts_at", "opens_at", "countdown", "level", "level_name", "minutes"}
    ),
    "ended": frozenset({"name", "sale"}),
    "no_sale": frozenset({"name"}),
    "unknown_item": frozenset({"name", "number", "numbers"}),
    "over_limit": _MEMBER | {"limit", "held"},
    "not_eligible_level": frozenset({"name", "level", "current"}),
    "not_eligible_joined": frozenset({"name", "date"}),
    "not_eligible_blocked": frozenset({"name"}),
    "insufficient_points": _MEMBER | {"points", "balance"},
    "left": frozenset({"number", "item", "left"}),
    "sold_out_notice": frozenset({"number", "item", "payment_minutes"}),
    "released": _MEMBER | {"minutes"},
    "offered": _MEMBER | {"price_part", "deadline", "pay_link"},
    "offered_done": _MEMBER | {"points"},
    "order_cancelled": _MEMBER | {"points_part"},
    "points_refunded_part": frozenset({"points"}),
    "paid": _MEMBER,
    "results": frozenset({"sale", "lines", "claimed", "total", "winners"}),
    "result_line": frozenset({"number", "item", "claimed", "total"}),
    "item_line": frozenset({"number", "item", "price_text", "total", "limit"}),
    "early_access_line": frozenset({"level", "level_name", "minutes", "more"}),
    "early_access_more": frozenset({"level", "level_name", "minutes"}),
    "countdown_days": frozenset({"days", "hours"}),
    "countdown_hours": frozenset({"hours", "minutes"}),
    "countdown_minutes": frozenset({"minutes", "seconds"}),
    "countdown_seconds": frozenset({"seconds"}),
    "payment_after_released": _PAYMENT,
    "payment_after_cancelled": _PAYMENT,
    "payment_twice": _PAYMENT,
}
ANNOUNCEMENT_FIELDS = frozenset(
    {"name", "starts_at", "ends_at", "items", "payment_minutes", "early_access"}
)
_FILLED_HERE = re.compile(r"\{(items|payment_minutes|early_access)\}")


class FlashSaleTexts(TemplateTexts):
    fields = TEXT_FIELDS


class AnnouncementConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    anchor: Literal["start", "end"]
    offset: str
    text: str = Field(min_length=1)

    @model_validator(mode="after")
    def _valid(self) -> Self:
        parse_offset(self.offset)
        unknown = placeholders(self.text) - ANNOUNCEMENT_FIELDS
        if unknown:
            raise ValueError(f"announcement {self.key} uses unknown placeholders {unknown}")
        return self


class FlashSaleConfig(BaseModel):
    """Everything in config/flash_sale.toml, validated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    aliases: tuple[str, ...] = Field(("抢",), min_length=1)
    payment_window_minutes: int = Field(15, ge=1, le=7 * 24 * 60)
    payment_link: str = Field(min_length=1, max_length=512)
    left_thresholds: tuple[int, ...] = (10, 3)
    release_interval_seconds: float = Field(30.0, ge=1, le=3600)
    results_grace_hours: float = Field(6.0, ge=0)
    announcements: tuple[AnnouncementConfig, ...] = ()
    texts: FlashSaleTexts

    @model_validator(mode="after")
    def _sane(self) -> Self:
        if any(not alias.strip() or any(c.isdigit() for c in alias) for alias in self.aliases):
            raise ValueError("aliases must be non-empty words without digits")
        if any(n < 1 for n in self.left_thresholds):
            raise ValueError("left_thresholds must be positive")
        unknown = placeholders(self.payment_link) - {"order_id", "sale_id", "number"}
        if unknown:
            raise ValueError(f"payment_link uses unknown placeholders {sorted(unknown)}")
        return self

    def pay_link(self, *, order_id: int, sale_id: int, number: int) -> str:
        return self.payment_link.format(order_id=order_id, sale_id=sale_id, number=number)

    def templates(
        self, items_text: str, payment_minutes: int, *, early_access: str
    ) -> list[AnnouncementTemplate]:
        """The announcement templates with {items}, {payment_minutes} and {early_access} (the
        rendered early_access_line, or "") filled in; the calendar fills {name}, {starts_at}
        and {ends_at} itself."""
        values = {
            "items": _escaped(items_text),
            "payment_minutes": str(payment_minutes),
            "early_access": _escaped(early_access),
        }
        # One pass, so an item named like a placeholder is not filled in again.
        return [
            AnnouncementTemplate(
                key=a.key,
                anchor=a.anchor,
                offset=parse_offset(a.offset),
                text=_FILLED_HERE.sub(lambda m: values[m[1]], a.text),
            )
            for a in self.announcements
        ]


def _escaped(text: str) -> str:
    """Braces doubled, so the calendar's own formatting leaves the text as it is."""
    return text.replace("{", "{{").replace("}", "}}")


def parse_flash_sale_config(text: str) -> FlashSaleConfig:
    data: dict[str, Any] = tomllib.loads(text)
    data["texts"] = {"templates": data.get("texts", {})}
    return FlashSaleConfig.model_validate(data)


@lru_cache
def load_flash_sale_config(path: Path = FLASH_SALE_CONFIG_PATH) -> FlashSaleConfig:
    """The flash-sale config (cached per path); a bad file raises ValueError with the reason."""
    try:
        return parse_flash_sale_config(path.read_text(encoding="utf-8"))
    except (ValidationError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{path.name}: {error}") from None
