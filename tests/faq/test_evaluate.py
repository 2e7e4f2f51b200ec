"""Evaluation and the BM25 baseline, on our tiny KB and (if present) the shared dev set."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.faq.config import FaqConfig
from app.faq.csv_io import parse_kb_csv
from app.faq.evaluate import (
    Bm25Baseline,
    EvalDataError,
    EvalLine,
    Scores,
    evaluate,
    format_report,
    parse_eval_lines,
)
from app.faq.index import FaqIndex

from .conftest import SHARED_FAQ, TINY_KB


def test_parse_lines() -> None:
    text = '{"q": "运费多少", "expected_id": "S1"}\n\n{"q": "早", "expected_id": null}\n'
    assert parse_eval_lines(text) == [EvalLine("运费多少", "S1"), EvalLine("早", None)]


@pytest.mark.parametrize("bad", ['{"q": 1}', "not json", '{"q": "x", "expected_id": 3}', '["q"]'])
def test_bad_lines_are_named(bad: str) -> None:
    with pytest.raises(EvalDataError, match="line 2"):
        parse_eval_lines('{"q": "ok", "expected_id": null}\n' + bad)


def test_scores() -> None:
    scores = Scores()
    for expected, predicted in [("a", "a"), ("a", None), ("b", "a"), (None, None), (None, "a")]:
        scores = scores.add(expected, predicted)
    assert scores.answerable_accuracy == pytest.approx(1 / 3)
    assert scores.false_answer_rate == pytest.approx(1 / 2)
    assert scores.overall_accuracy == pytest.approx(2 / 5)


def test_evaluate_reports_both_matchers(tiny_index: FaqIndex, faq_config: FaqConfig) -> None:
    lines = [
        EvalLine("送货要多少钱呀", "S1"),
        EvalLine("運費怎麼算", "S1"),
        EvalLine("早上好", None),
        EvalLine("明天会下雨吗", None),
    ]
    report = evaluate(tiny_index, lines, faq_config.matching)
    assert report.ours.answerable == 2
    assert report.ours.answerable_right == 2
    assert report.ours.null_answered == 0
    assert report.baseline.answerable == 2
    text = format_report(report, show_misses=True)
    assert "answerable accuracy" in text
    assert "bm25" in text


def test_baseline_answers_its_own_phrasing() -> None:
    baseline = Bm25Baseline.build(TINY_KB, 0.05)
    assert baseline.top("积分怎么用")[0] == "S3"
    assert baseline.match("") is None


@pytest.mark.skipif(not (SHARED_FAQ / "dev.jsonl").exists(), reason="shared dataset absent")
def test_shared_dev_set_beats_the_baseline(faq_config: FaqConfig) -> None:
    entries = parse_kb_csv((SHARED_FAQ / "kb.csv").read_bytes())
    lines = parse_eval_lines(Path(SHARED_FAQ / "dev.jsonl").read_text(encoding="utf-8"))
    index = FaqIndex.build(entries, faq_config)
    report = evaluate(index, lines, faq_config.matching)
    assert index.thresholds.calibrated
    assert report.ours.answerable_accuracy > report.baseline.answerable_accuracy + 0.1
    assert report.ours.false_answer_rate <= 0.1
    assert report.ours.overall_accuracy > report.baseline.overall_accuracy
