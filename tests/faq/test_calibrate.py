"""Leave-one-out calibration on the KB itself."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.faq.calibrate import (
    Probe,
    calibrate_index,
    choose_threshold,
    leave_one_out,
    swapped_probes,
)
from app.faq.config import FaqConfig
from app.faq.index import FaqIndex
from app.faq.scoring import FEATURES, Features, LogisticModel

from .conftest import TINY_KB

# A model whose confidence is simply sigmoid(10·(query_coverage − 0.5)).
COVERAGE_ONLY = LogisticModel(weights=(10.0,) + (0.0,) * (len(FEATURES) - 1), bias=-5.0)


def _probe(coverage: float, expected: int | None, entry: int = 0) -> Probe:
    values = (coverage,) + (0.0,) * (len(FEATURES) - 1)
    return Probe(((entry, Features(values)),), expected)


def test_threshold_allows_at_most_the_target_share_of_false_answers() -> None:
    unanswerable = [_probe(c / 100, None) for c in range(0, 100, 5)]  # 20 probes
    answerable = [_probe(0.97, 0), _probe(0.6, 0), _probe(0.3, 0)]
    report = choose_threshold(unanswerable + answerable, COVERAGE_ONLY, target_rate=0.05)
    assert report.false_answer_rate <= 0.05
    assert report.unanswerable == 20
    assert COVERAGE_ONLY.score(_probe(0.95, None).candidates[0][1]) >= report.threshold
    assert COVERAGE_ONLY.score(_probe(0.90, None).candidates[0][1]) < report.threshold
    assert report.answerable_recall == pytest.approx(1 / 3)


def test_leave_one_out_hides_the_asked_phrasing(tiny_index: FaqIndex) -> None:
    probes = leave_one_out(tiny_index, limit=1000)
    answerable = [p for p in probes if p.expected is not None]
    assert len(answerable) == sum(len(e.phrasings) for e in TINY_KB)
    right = sum(1 for p in answerable if p.candidates and p.candidates[0][0] == p.expected)
    assert right / len(answerable) > 0.6  # other phrasings of the entry still find it
    entry_out = probes[1::3]
    assert all(p.expected is None for p in entry_out)


def test_swapped_probes_replace_the_subject(tiny_index: FaqIndex) -> None:
    swapped = swapped_probes(tiny_index, limit=1000)
    assert swapped
    for probe in swapped:
        original = TINY_KB[probe.entry].phrasings[probe.phrasing]
        assert probe.text != tiny_index.corpus.analyzer.analyze(original).text


def test_calibration_needs_enough_phrasings(tiny_index: FaqIndex, faq_config: FaqConfig) -> None:
    assert calibrate_index(tiny_index, faq_config.matching) is tiny_index
    lenient = replace(faq_config.matching, min_calibration_questions=10)
    calibrated = calibrate_index(tiny_index, lenient)
    if calibrated is not tiny_index:  # accepted: thresholds come from leave-one-out
        assert calibrated.thresholds.calibrated
        assert 0.05 <= calibrated.thresholds.question <= 0.95
        assert calibrated.thresholds.statement >= calibrated.thresholds.question
