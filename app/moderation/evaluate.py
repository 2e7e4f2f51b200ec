"""Measure a content checker on a labelled JSONL file (`qunyun moderation eval PATH`).

Runs the stateless content check on every line ({"text": …, "label": "ok|ad|spam|abuse|scam"})
and reports per-category precision, recall and false-positive rate (the share of `ok` lines given
that category), plus the binary violation-vs-ok figures. Reads only; nothing is stored.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import get_args

from app.moderation.engine import ContentChecker
from app.moderation.verdict import CATEGORY_PRECEDENCE, Category

OK = "ok"
_LABELS = frozenset((OK, *get_args(Category)))


@dataclass(frozen=True, slots=True)
class LabelledLine:
    text: str
    label: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Ratio:
    hits: int
    total: int

    @property
    def value(self) -> float:
        return self.hits / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class CategoryStats:
    category: str
    precision: Ratio  # lines predicted `category` that are labelled so
    recall: Ratio  # lines labelled `category` predicted so
    fp_rate: Ratio  # ok lines predicted `category`

    @property
    def f1(self) -> float:
        p, r = self.precision.value, self.recall.value
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True)
class Mistake:
    line: int
    text: str
    label: str
    predicted: str
    rules: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Report:
    lines: int
    binary: CategoryStats  # "violation" vs ok
    categories: tuple[CategoryStats, ...]
    mistakes: tuple[Mistake, ...]

    @property
    def macro_f1(self) -> float:
        scored = [c for c in self.categories if c.recall.total]
        return sum(c.f1 for c in scored) / len(scored) if scored else 0.0


def parse_labelled(lines: Iterable[str]) -> list[LabelledLine]:
    """Parse JSONL; blank lines skipped; ValueError names the line and the problem."""
    parsed: list[LabelledLine] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {number}: not JSON ({exc.msg})") from None
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise ValueError(f"line {number}: needs a string field 'text'")
        label = item.get("label")
        if not isinstance(label, str) or label not in _LABELS:
            raise ValueError(f"line {number}: label must be one of {sorted(_LABELS)}")
        parsed.append(LabelledLine(item["text"], label, str(item.get("note", ""))))
    return parsed


def evaluate(checker: ContentChecker, lines: Iterable[str]) -> Report:
    """Check every labelled line and compare the predicted category with the label."""
    labelled = parse_labelled(lines)
    pairs: list[tuple[str, str]] = []
    mistakes: list[Mistake] = []
    for number, line in enumerate(labelled, start=1):
        verdict = checker.check(line.text)
        predicted = verdict.category if verdict.violation and verdict.category else OK
        pairs.append((line.label, predicted))
        if predicted != line.label:
            mistakes.append(Mistake(number, line.text, line.label, predicted, verdict.rules))
    binary = _stats("violation", [(_binary(t), _binary(p)) for t, p in pairs])
    categories = tuple(_stats(c, pairs) for c in CATEGORY_PRECEDENCE)
    return Report(len(labelled), binary, categories, tuple(mistakes))


def _binary(label: str) -> str:
    return OK if label == OK else "violation"


def _stats(category: str, pairs: list[tuple[str, str]]) -> CategoryStats:
    counts = Counter(pairs)
    true_pos = counts[(category, category)]
    predicted = sum(n for (_, p), n in counts.items() if p == category)
    labelled = sum(n for (t, _), n in counts.items() if t == category)
    ok_total = sum(n for (t, _), n in counts.items() if t == OK)
    return CategoryStats(
        category,
        precision=Ratio(true_pos, predicted),
        recall=Ratio(true_pos, labelled),
        fp_rate=Ratio(counts[(OK, category)], ok_total),
    )


def format_report(report: Report, *, mistakes: bool = True) -> str:
    """A plain-text table for the CLI, then the misclassified lines."""
    header = f"{'category':<10} {'precision':>14} {'recall':>14} {'fp rate':>14}"
    rows = [f"{report.lines} lines", header]
    for stats in report.categories:
        if stats.recall.total or stats.precision.total:
            rows.append(_row(stats))
    rows.append(_row(report.binary))
    rows.append(f"macro F1 {report.macro_f1:.3f}")
    if mistakes and report.mistakes:
        rows.append("mistakes (line, label → predicted, rules):")
        for m in report.mistakes:
            rules = ",".join(m.rules) or "-"
            rows.append(f"  {m.line:>4} {m.label} → {m.predicted} [{rules}] {m.text[:60]!r}")
    return "\n".join(rows)


def _row(stats: CategoryStats) -> str:
    cells = [_cell(r) for r in (stats.precision, stats.recall, stats.fp_rate)]
    return f"{stats.category:<10} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14}"


def _cell(ratio: Ratio) -> str:
    return f"{ratio.value:.3f} ({ratio.hits}/{ratio.total})"
