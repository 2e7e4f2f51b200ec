"""Moderation texts: templates are checked when the rules load, filled in when used."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.moderation.texts import ModerationTexts


def test_templates_are_filled_in() -> None:
    texts = ModerationTexts(warn="{rule_text}（第 {count} 次）")

    assert texts.render("warn", rule_text="请勿刷屏", count=2, case_id=9) == "请勿刷屏（第 2 次）"
    assert texts.category("scam") == "诈骗"
    assert texts.category(None) == ""
    assert texts.action_names(["warn", "blacklist"]) == "警告、加入黑名单"


@pytest.mark.parametrize(
    ("field", "template", "message"),
    [
        ("warn", "{nickname}", "warn: unknown placeholder"),
        ("appeal_received", "{case_id", "appeal_received: not a valid template"),
    ],
)
def test_bad_templates_are_refused(field: str, template: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ModerationTexts.model_validate({field: template})
