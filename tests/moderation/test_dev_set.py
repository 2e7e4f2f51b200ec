"""The public development set, when the shared datasets sit next to the repository.

Uses the shipped rules with the dataset's own shop settings (its domain and hotline, as an operator
would configure them) plus the dataset's seed word list imported as category "other".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.moderation.engine import ContentChecker, build_lexicon
from app.moderation.evaluate import evaluate, format_report
from app.moderation.lexicon import parse_word_list
from app.moderation.rules import rules_from_data
from tests.moderation.conftest import shipped_data

DATASET = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "moderation"


@pytest.mark.skipif(not (DATASET / "dev.jsonl").exists(), reason="shared datasets not present")
def test_dev_set_recall_and_false_positive_rate() -> None:
    data = shipped_data()
    data["settings"]["domain_whitelist"] = ["huayu-flower.example.com"]
    data["settings"]["phone_whitelist"] = ["400-123-5217"]
    rules = rules_from_data(data)
    words = parse_word_list((DATASET / "banned_words.txt").read_text(encoding="utf-8"), "other")
    checker = ContentChecker(rules, build_lexicon(rules, words))
    lines = (DATASET / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    report = evaluate(checker, lines)
    print(format_report(report))
    assert report.binary.recall.value >= 0.90
    assert report.binary.fp_rate.value <= 0.02
