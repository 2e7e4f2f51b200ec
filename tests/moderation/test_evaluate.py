"""Evaluation on a labelled JSONL file: per-category precision, recall and FP rate."""

from __future__ import annotations

import json

import pytest

from app.moderation.engine import ContentChecker
from app.moderation.evaluate import evaluate, format_report, parse_labelled


def line(text: str, label: str) -> str:
    return json.dumps({"text": text, "label": label}, ensure_ascii=False)


LINES = [
    line("刷单返利一单一结", "scam"),
    line("加微信领资料", "ad"),
    line("煞笔客服", "abuse"),
    line("今天的花真好看", "ok"),
    line("请问几点关门", "ok"),
    line("这条其实是广告但看不出来", "ad"),  # a miss
    line("垃圾袋在哪买", "abuse"),  # a wrong label: counts as a false negative
    "",
]


def test_figures(checker: ContentChecker) -> None:
    report = evaluate(checker, LINES)
    assert report.lines == 7
    by_name = {stats.category: stats for stats in report.categories}
    ad = by_name["ad"]
    assert (ad.precision.hits, ad.precision.total) == (1, 1)
    assert (ad.recall.hits, ad.recall.total) == (1, 2)
    assert ad.fp_rate.total == 2
    assert ad.fp_rate.hits == 0
    assert report.binary.recall.value == pytest.approx(3 / 5)
    assert report.binary.precision.value == 1.0
    assert report.binary.fp_rate.value == 0.0
    assert [m.line for m in report.mistakes] == [6, 7]


def test_report_text(checker: ContentChecker) -> None:
    text = format_report(evaluate(checker, LINES))
    assert "violation" in text
    assert "1.000 (3/3)" in text
    assert "6 ad → ok" in text


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "line 1: not JSON"),
        ('{"label": "ok"}', "line 1: needs a string field 'text'"),
        ('{"text": "x", "label": "fraud"}', "line 1: label must be one of"),
    ],
)
def test_bad_lines_are_named(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_labelled([raw])
