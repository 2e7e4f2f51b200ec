"""Member- and staff-facing moderation texts (zh-CN), the `[texts]` section of the rule file.

Loaded with the rules (config/moderation.toml, overridable through the admin API's defaults
scope) and validated like them: a template with an unknown placeholder is refused at load time
with the field named, never while answering a member. Nothing here has side effects.
"""

from __future__ import annotations

import string
from typing import Any, Self

from pydantic import Field, model_validator

from app.moderation.rule_types import Frozen
from app.moderation.verdict import Category

# The placeholders each template may use (all optional).
_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "warn": frozenset({"rule_text", "count", "case_id"}),
    "my_cases_line": frozenset({"case_id", "time", "category", "rule_text", "action", "status"}),
    "appeal_received": frozenset({"case_id"}),
    "appeal_duplicate": frozenset({"case_id"}),
    "notify_case": frozenset(
        {
            "case_id",
            "chat",
            "member",
            "user_id",
            "rule",
            "category",
            "matched",
            "text",
            "action",
            "count",
        }
    ),
    "notify_task": frozenset({"case_id", "chat", "member", "user_id", "reason"}),
    "notify_appeal": frozenset({"case_id", "member", "user_id", "reason"}),
    "removal_reason": frozenset({"case_id", "rule_text"}),
}
_CATEGORY_LABELS: dict[Category, str] = {
    "ad": "广告",
    "scam": "诈骗",
    "abuse": "辱骂",
    "spam": "刷屏",
    "other": "其他",
}


def placeholders(template: str) -> set[str]:
    """The `{names}` a template uses; ValueError for a malformed template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class ModerationTexts(Frozen):
    """Every text the moderation feature posts; `{placeholders}` are filled in by the bot."""

    warn: str = "{rule_text}"
    default_rule_text: str = "这条消息违反了群规。"
    group_rules: str = "本群群规：请文明交流，不发广告、链接、二维码和联系方式，不刷屏。"
    my_cases_title: str = "你最近的违规记录："
    my_cases_line: str = "#{case_id} {time} {category}：{rule_text}（{status}）"
    my_cases_footer: str = "如有异议，发送「申诉 理由」即可。"
    my_cases_empty: str = "你最近没有违规记录，谢谢你维护群秩序！"
    appeal_usage: str = "请在「申诉」后写上理由，例如：申诉 我发的是本店官方链接"
    appeal_nothing: str = "没有找到可以申诉的违规记录。"
    appeal_received: str = "已收到你对违规记录 #{case_id} 的申诉，管理员会尽快处理。"
    appeal_duplicate: str = "违规记录 #{case_id} 已经申诉过了，请耐心等待管理员处理。"
    notify_case: str = (
        "【违规提醒】#{case_id} {chat}\n成员：{member}（{user_id}）\n规则：{rule}（{category}）\n"
        "命中：{matched}\n原文：{text}\n处理：{action}（第 {count} 次）"
    )
    notify_task: str = (
        "【需要人工移出】#{case_id} {chat}\n成员：{member}（{user_id}）\n原因：{reason}\n"
        "这个渠道不能自动移出成员，请群主处理后在后台标记完成。"
    )
    notify_appeal: str = "【申诉】违规记录 #{case_id}\n成员：{member}（{user_id}）\n理由：{reason}"
    removal_reason: str = "违规记录 #{case_id}：{rule_text}"
    categories: dict[Category, str] = Field(default_factory=lambda: dict(_CATEGORY_LABELS))
    statuses: dict[str, str] = Field(
        default_factory=lambda: {"open": "待复核", "confirmed": "已确认", "overturned": "已撤销"}
    )
    actions: dict[str, str] = Field(
        default_factory=lambda: {
            "log": "记录",
            "warn": "警告",
            "deduct_points": "扣积分",
            "notify_admins": "通知管理员",
            "request_removal": "请求移出群聊",
            "blacklist": "加入黑名单",
        }
    )

    @model_validator(mode="after")
    def _known_placeholders(self) -> Self:
        for name, allowed in _PLACEHOLDERS.items():
            template = getattr(self, name)
            try:
                used = placeholders(template)
            except ValueError as exc:
                raise ValueError(f"{name}: not a valid template ({exc})") from None
            unknown = sorted(used - allowed)
            if unknown:
                raise ValueError(
                    f"{name}: unknown placeholder(s) {unknown}; use {sorted(allowed)}"
                )
        return self

    def render(self, name: str, **values: Any) -> str:
        """Fill a template (only the placeholders it uses are read)."""
        template: str = getattr(self, name)
        return template.format(**{k: v for k, v in values.items() if k in placeholders(template)})

    def category(self, category: str | None) -> str:
        """The label of a category ("广告" for ad); the id itself when it has none."""
        labels = {str(key): label for key, label in self.categories.items()}
        return labels.get(category, category) if category else ""

    def action_names(self, kinds: list[str] | tuple[str, ...]) -> str:
        return "、".join(self.actions.get(kind, kind) for kind in kinds)
