"""Fit the confidence model and the answer threshold on the knowledge base itself.

Runs inside `FaqIndex.build`, after the entries are indexed; changes nothing but the index it
returns. No evaluation data is involved: every phrasing of an entry is in turn hidden and asked
as a question (leave-one-out), which yields

* answerable questions — the hidden phrasing, whose right answer is its own entry, and
* unanswerable near-topic questions — the same phrasing with its whole entry hidden, so that
  the best remaining entry is always wrong (the hardest kind of question to stay quiet on), and
  the phrasing with its most specific word swapped for an everyday word the KB never uses
  (玫瑰能放几天 → 书包能放几天): same shape, other subject, so no entry answers it.

The logistic model is refitted on the candidates of all these questions, and the threshold is
the lowest confidence at which at most `target_false_answer_rate` of the unanswerable ones
would still be answered.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from app.faq.analyzer import Analysis, common_words
from app.faq.config import MatchingConfig
from app.faq.index import Exclusion, FaqIndex, Thresholds
from app.faq.scoring import Features, LogisticModel, fit_model
from app.faq.semantic import Embed, SemanticLayer, extend_prior

_TRAIN_CANDIDATES = 5
_MAX_WEIGHT = 25.0
_MIN_THRESHOLD = 0.05
_MAX_THRESHOLD = 0.95
_SEMANTIC_PRIOR_STRENGTH = 0.1  # the semantic weights start at zero: let the probes move them
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Probe:
    """One leave-one-out question: the candidates' features and the right entry (if any)."""

    candidates: tuple[tuple[int, Features], ...]
    expected: int | None


@dataclass(frozen=True, slots=True)
class SwappedProbe:
    """An unanswerable probe text: a phrasing (entry, position) with its subject swapped."""

    entry: int
    phrasing: int
    text: str


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """What calibration saw and chose, for logs and `qunyun faq eval`."""

    answerable: int
    unanswerable: int
    threshold: float
    answerable_recall: float
    false_answer_rate: float
    model: LogisticModel

    def describe(self) -> str:
        """One line for humans."""
        return (
            f"threshold {self.threshold:.3f} from leave-one-out on {self.answerable} KB "
            f"phrasings and {self.unanswerable} unanswerable probes (entry hidden or subject "
            f"swapped): recall {self.answerable_recall:.1%}, "
            f"false answers {self.false_answer_rate:.1%}"
        )


def calibrate_index(index: FaqIndex, config: MatchingConfig) -> FaqIndex:
    """The index with a model and threshold fitted on its own KB (unchanged if it is too small)."""
    probes = leave_one_out(index, config.max_calibration_questions)
    answerable = [p for p in probes if p.expected is not None]
    if len(answerable) < config.min_calibration_questions:
        return index
    model = fit_on_probes(probes, index.model)
    report = choose_threshold(probes, model, config.target_false_answer_rate)
    if not _plausible(report):
        # Degenerate KBs (the same phrasing under several entries) make leave-one-out labels
        # contradict each other; keep the default model and the configured threshold then.
        _LOG.warning("FAQ calibration rejected", extra={"key": report.describe()})
        return index
    thresholds = Thresholds(
        question=report.threshold,
        statement=max(report.threshold, config.statement_threshold),
        calibrated=True,
    )
    return index.with_model(model, thresholds)


def _plausible(report: CalibrationReport) -> bool:
    weights_sane = all(abs(w) <= _MAX_WEIGHT for w in (*report.model.weights, report.model.bias))
    return weights_sane and _MIN_THRESHOLD <= report.threshold <= _MAX_THRESHOLD


def leave_one_out(index: FaqIndex, limit: int) -> list[Probe]:
    """Probes for up to `limit` phrasings of entries that have more than one phrasing."""
    corpus = index.corpus
    strangers = _strangers(index) or ["某某"]
    probes: list[Probe] = []
    for entry, doc in _picks(index, limit):
        start = int(corpus.entry_start[entry])
        analysis = corpus.analyzer.analyze(corpus.entries[entry].phrasings[doc - start])
        own = Exclusion(docs=frozenset({doc}))
        whole = Exclusion(
            docs=frozenset(range(start, _stop(index, entry))), answers=frozenset({entry})
        )
        probes.append(Probe(tuple(index.features(analysis, own)), entry))
        probes.append(Probe(tuple(index.features(analysis, whole)), None))
        swapped = _swap_subject(index, analysis, strangers[doc % len(strangers)])
        if swapped is not None:
            probes.append(Probe(tuple(index.features(swapped, own)), None))
    return probes


def swapped_probes(index: FaqIndex, limit: int) -> list[SwappedProbe]:
    """The subject-swapped texts `leave_one_out` asks, for judging other matchers alike."""
    corpus = index.corpus
    strangers = _strangers(index) or ["某某"]
    result: list[SwappedProbe] = []
    for entry, doc in _picks(index, limit):
        start = int(corpus.entry_start[entry])
        analysis = corpus.analyzer.analyze(corpus.entries[entry].phrasings[doc - start])
        swapped = _swap_subject(index, analysis, strangers[doc % len(strangers)])
        if swapped is not None:
            result.append(SwappedProbe(entry, doc - start, swapped.text))
    return result


def _picks(index: FaqIndex, limit: int) -> list[tuple[int, int]]:
    """(entry, phrasing doc) pairs to hold out: evenly spread, at most `limit`."""
    picks = [
        (entry, doc)
        for entry, start in enumerate(index.corpus.entry_start.tolist())
        for doc in range(start, _stop(index, entry))
        if _stop(index, entry) - start > 1
    ]
    if len(picks) > limit > 0:
        step = len(picks) / limit
        picks = [picks[int(i * step)] for i in range(limit)]
    return picks


def _strangers(index: FaqIndex) -> list[str]:
    """Everyday words that appear nowhere in the KB, in a fixed pseudo-random order."""
    known = index.corpus.term_count
    in_answers = index.corpus.answer_gram_count  # the words are two characters long
    words = [w for w in common_words() if w not in known and w not in in_answers]
    random.Random(len(index.entries)).shuffle(words)
    return words


def _swap_subject(index: FaqIndex, analysis: Analysis, stranger: str) -> Analysis | None:
    """The text with its most specific word replaced by a stranger word, analysed again."""
    corpus = index.corpus
    content = [t for t in analysis.tokens if len(t) > 1 and t in corpus.term_count]
    if not content:
        return None
    subject = max(content, key=corpus.weight)
    swapped = "".join(stranger if t == subject else t for t in analysis.tokens)
    return corpus.analyzer.analyze(swapped)


def fit_on_probes(
    probes: Sequence[Probe], prior: LogisticModel, strength: float = 1.0
) -> LogisticModel:
    """Refit the model on the first-stage leaders of every probe."""
    samples: list[Features] = []
    labels: list[bool] = []
    for probe in probes:
        for entry, features in probe.candidates[:_TRAIN_CANDIDATES]:
            samples.append(features)
            labels.append(entry == probe.expected)
    return fit_model(samples, labels, prior=prior, strength=strength)


def choose_threshold(
    probes: Sequence[Probe], model: LogisticModel, target_rate: float
) -> CalibrationReport:
    """The lowest threshold whose false-answer rate on unanswerable probes is ≤ `target_rate`."""
    answerable: list[tuple[float, bool]] = []
    unanswerable: list[float] = []
    for probe in probes:
        best = _best(probe, model)
        if probe.expected is None:
            unanswerable.append(best[1])
        else:
            answerable.append((best[1], best[0] == probe.expected))
    ordered = sorted(unanswerable, reverse=True)
    allowed = math.floor(target_rate * len(ordered))
    threshold = math.nextafter(ordered[allowed], 1.0) if allowed < len(ordered) else 0.0
    recall = sum(1 for score, right in answerable if right and score >= threshold)
    false = sum(1 for score in unanswerable if score >= threshold)
    return CalibrationReport(
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        threshold=threshold,
        answerable_recall=recall / max(len(answerable), 1),
        false_answer_rate=false / max(len(unanswerable), 1),
        model=model,
    )


def calibration_report(index: FaqIndex, config: MatchingConfig) -> CalibrationReport:
    """Recompute the leave-one-out figures of an index's current model (for reports)."""
    probes = leave_one_out(index, config.max_calibration_questions)
    return choose_threshold(probes, index.model, config.target_false_answer_rate)


def _best(probe: Probe, model: LogisticModel) -> tuple[int | None, float]:
    if not probe.candidates:
        return None, 0.0
    entry, features = max(probe.candidates, key=lambda c: model.score(c[1]))
    return entry, model.score(features)


def _stop(index: FaqIndex, entry: int) -> int:
    starts = index.corpus.entry_start
    return int(starts[entry + 1]) if entry + 1 < len(starts) else len(index.corpus.doc_entry)


def calibrate_semantic(
    index: FaqIndex, config: MatchingConfig, embed: Embed
) -> SemanticLayer | None:
    """Embed every phrasing and fit the re-ranker's model and threshold by leave-one-out.

    Answerable probes are held-out phrasings (their own embedding is the query);
    unanswerable ones are the subject-swapped phrasings, the kind of near-topic question no
    entry answers. None when the KB is too small to calibrate (the lexical index decides).
    """
    corpus = index.corpus
    if len(_picks(index, config.max_calibration_questions)) < config.min_calibration_questions:
        return None  # too few phrasings to hold out: do not embed for nothing
    texts = [index.semantic_text(p) for entry in corpus.entries for p in entry.phrasings]
    vectors = embed(texts)
    layer = SemanticLayer(
        embed=embed,
        vectors=vectors,
        doc_entry=corpus.doc_entry,
        entries=len(corpus.entries),
        model=extend_prior(index.model),
        threshold=index.thresholds.question,
    )
    probes = _semantic_probes(index, layer, config.max_calibration_questions)
    if sum(1 for p in probes if p.expected is not None) < config.min_calibration_questions:
        return None
    model = fit_on_probes(probes, layer.model, _SEMANTIC_PRIOR_STRENGTH)
    report = choose_threshold(probes, model, config.target_false_answer_rate)
    if not _plausible(report):
        _LOG.warning("FAQ semantic calibration rejected", extra={"key": report.describe()})
        return None
    return SemanticLayer(
        embed, vectors, corpus.doc_entry, len(corpus.entries), model, report.threshold
    )


def _semantic_probes(index: FaqIndex, layer: SemanticLayer, limit: int) -> list[Probe]:
    corpus = index.corpus
    strangers = _strangers(index) or ["某某"]
    probes: list[Probe] = []
    swapped_texts: list[tuple[Analysis, Exclusion]] = []
    for entry, doc in _picks(index, limit):
        start = int(corpus.entry_start[entry])
        analysis = corpus.analyzer.analyze(corpus.entries[entry].phrasings[doc - start])
        own = Exclusion(docs=frozenset({doc}))
        lexical = index.features(analysis, own)
        extended = layer.extend(lexical, index.model, layer.vectors[doc], own.docs)
        probes.append(Probe(tuple(extended), entry))
        swapped = _swap_subject(index, analysis, strangers[doc % len(strangers)])
        if swapped is not None:
            swapped_texts.append((swapped, own))
    queries = layer.embed([analysis.text for analysis, _ in swapped_texts])
    for (analysis, own), query in zip(swapped_texts, queries, strict=True):
        lexical = index.features(analysis, own)
        probes.append(Probe(tuple(layer.extend(lexical, index.model, query, own.docs)), None))
    return probes
