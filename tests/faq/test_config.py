"""Reading config/faq.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.faq.config import FaqConfigError, load_faq_config, parse_faq_config


def test_the_shipped_config_is_complete() -> None:
    config = load_faq_config()
    assert config.answering.ticket_sla_hours == 24
    assert "转人工" in config.answering.handoff_reply
    assert config.answering.answer_only_questions
    assert 0 < config.matching.threshold < 1
    assert config.synonyms
    assert config.text.small_talk
    assert config.text.question_cues
    assert all(len(group) >= 2 for group in config.synonyms)


def test_tickets_and_semantic_sections() -> None:
    config = parse_faq_config(
        {
            "tickets": {"staff_user_ids": ["ops", "boss"], "remind_before_hours": 1},
            "semantic": {"enabled": False, "max_phrasings": 100},
        }
    )
    assert config.tickets.staff_user_ids == ("ops", "boss")
    assert config.tickets.remind_before_hours == 1
    assert "{answer}" in config.tickets.answer_text
    assert (config.semantic.enabled, config.semantic.max_phrasings) == (False, 100)


def test_missing_sections_keep_defaults() -> None:
    config = parse_faq_config({})
    assert config.synonyms == ()
    assert config.matching.candidates > 0


@pytest.mark.parametrize(
    "raw",
    [
        {"matching": {"threshold": "high"}},
        {"answering": {"answer_only_questions": "yes"}},
        {"synonyms": {"groups": [["alone"]]}},
        {"text": {"fillers": "请问"}},
        {"text": []},
        {"answering": {"ticket_sla_hours": 0}},
        {"answering": {"cooldown_reply": ""}},
        {"answering": {"cooldown_reply": "{minutes} 分钟前答过，{who} 看看"}},
        {"answering": {"suggestion_text": "你可能想问 {questions"}},
        {"answering": {"suggestions": -1}},
        {"answering": {"suggestion_floor": 1.5}},
        {"tickets": {"staff_user_ids": "ops"}},
        {"tickets": {"remind_before_hours": "2h"}},
        {"semantic": {"enabled": "on"}},
        {"semantic": {"max_phrasings": 1.5}},
    ],
)
def test_bad_values_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(FaqConfigError):
        parse_faq_config(raw)


def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "faq.toml"
    broken.write_text("[matching\n", encoding="utf-8")
    with pytest.raises(FaqConfigError):
        load_faq_config(broken)
