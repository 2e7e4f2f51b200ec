"""The FAQ index: find the knowledge-base entry that answers a member's message, or none.

Built from the enabled entries whenever the knowledge base changes (`FaqIndex.build`, then
`FaqIndexHolder.swap`, so no restart is needed); `match` runs for every group message that may
need an answer. An index is immutable once built, so any number of threads may match at once.

Matching has two stages. A sparse first stage scores every phrasing (question or similar
question) by BM25 over words plus a character n-gram cosine, and every answer by n-gram cosine;
the best few entries go to a re-ranker that computes coverage features and turns them into a
calibrated confidence with a logistic model fitted on the KB itself (`app.faq.calibrate`).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from app.faq.analyzer import Analysis, Analyzer, Segmenter, Synonyms, general_weight
from app.faq.config import FaqConfig
from app.faq.scoring import DEFAULT_MODEL, Features, LogisticModel
from app.faq.semantic import SemanticLayer, load_embedder
from app.faq.sparse import FloatArray, IntArray, Postings
from app.faq.text import TextRules

_K1 = 1.2
_B = 0.5
_WORD_SHARE = 0.5  # first stage: BM25 and n-gram cosine count equally ...
_ANSWER_SHARE = 0.3  # ... and the answer adds a smaller part


@dataclass(frozen=True, slots=True)
class KbEntry:
    """One knowledge-base entry as the matcher sees it."""

    id: str
    question: str
    similar_questions: tuple[str, ...] = ()
    answer: str = ""
    tags: tuple[str, ...] = ()

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The question followed by its similar questions."""
        return (self.question, *self.similar_questions)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An entry the re-ranker considered, with its confidence and features."""

    entry_id: str
    score: float
    features: Features


@dataclass(frozen=True, slots=True)
class FaqMatch:
    """The verdict on one message: the entry to answer with (or None) and why."""

    entry_id: str | None
    score: float
    reason: str  # "answer", "small_talk", "empty", "low_confidence", "not_a_question"
    is_question: bool
    candidates: tuple[Candidate, ...] = ()

    @property
    def answered(self) -> bool:
        """True when an entry was chosen."""
        return self.entry_id is not None


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Phrasings (and answers) hidden from a match; used by leave-one-out calibration."""

    docs: frozenset[int] = frozenset()
    answers: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Minimum confidence to answer a question, and a statement that is not one."""

    question: float
    statement: float
    calibrated: bool = False


@dataclass(frozen=True, slots=True)
class _Corpus:
    """Everything derived from the entries; shared by an index and its recalibrated copies."""

    entries: tuple[KbEntry, ...]
    analyzer: Analyzer
    doc_entry: IntArray
    entry_start: IntArray
    doc_terms: tuple[frozenset[str], ...]
    tag_terms: tuple[frozenset[str], ...]
    answer_texts: tuple[str, ...]
    term_weight: Mapping[str, float]
    term_count: Mapping[str, int]
    unknown_idf: float
    answer_gram_count: Mapping[str, int]
    word_postings: Postings
    gram_postings: Postings
    answer_postings: Postings
    gram_idf: Mapping[str, float]
    answer_idf: Mapping[str, float]
    intents: tuple[tuple[str, re.Pattern[str]], ...]
    doc_intents: tuple[frozenset[str], ...]

    def intents_of(self, text: str) -> frozenset[str]:
        """The kinds of question a prepared text asks (duration, place, …)."""
        return frozenset(name for name, cues in self.intents if cues.search(text))

    def weight(self, term: str) -> float:
        """A term's weight: KB rarity × general informativeness."""
        known = self.term_weight.get(term)
        return known if known is not None else self.unknown_idf * general_weight(term)

    def hidden_terms(self, terms: Iterable[str], exclusion: Exclusion) -> frozenset[str]:
        """Terms found only in excluded phrasings or tags (unknown to a leave-one-out probe)."""
        if not exclusion.docs and not exclusion.answers:
            return frozenset()
        hidden: set[str] = set()
        for term in terms:
            count = self.term_count.get(term, 0)
            if count == 0:
                continue
            count -= sum(1 for doc in exclusion.docs if term in self.doc_terms[doc])
            count -= sum(1 for entry in exclusion.answers if term in self.tag_terms[entry])
            if count <= 0:
                hidden.add(term)
        return frozenset(hidden)

    def in_answers(self, term: str, exclusion: Exclusion) -> bool:
        """True if every character pair of the term occurs in some visible answer."""
        grams = [term] if len(term) == 1 else [term[i : i + 2] for i in range(len(term) - 1)]
        for gram in grams:
            count = self.answer_gram_count.get(gram, 0)
            count -= sum(1 for entry in exclusion.answers if gram in self.answer_texts[entry])
            if count <= 0:
                return False
        return True


@dataclass(frozen=True)
class FaqIndex:
    """An immutable, thread-safe matcher over one snapshot of the knowledge base."""

    corpus: _Corpus
    rules: TextRules
    model: LogisticModel
    thresholds: Thresholds
    candidates: int
    _by_id: Mapping[str, int] = field(default_factory=dict, repr=False)
    semantic: SemanticLayer | None = None

    @classmethod
    def build(
        cls, entries: Iterable[KbEntry], config: FaqConfig, *, calibrate: bool = True
    ) -> FaqIndex:
        """Index the entries; unless told not to, fit the confidence model on the KB itself."""
        corpus = _build_corpus(tuple(entries), config)
        index = cls(
            corpus=corpus,
            rules=TextRules(config.text),
            model=DEFAULT_MODEL,
            thresholds=Thresholds(
                question=config.matching.threshold,
                statement=max(config.matching.statement_threshold, config.matching.threshold),
            ),
            candidates=config.matching.candidates,
            _by_id={entry.id: i for i, entry in enumerate(corpus.entries)},
        )
        if not calibrate:
            return index
        from app.faq.calibrate import calibrate_index, calibrate_semantic

        index = calibrate_index(index, config.matching)
        phrasings = len(index.corpus.doc_entry)
        if not config.semantic.enabled or phrasings > config.semantic.max_phrasings:
            return index
        embed = load_embedder()
        layer = None if embed is None else calibrate_semantic(index, config.matching, embed)
        return index if layer is None else replace(index, semantic=layer)

    def with_model(self, model: LogisticModel, thresholds: Thresholds) -> FaqIndex:
        """The same index with another confidence model and thresholds (no semantic layer)."""
        return FaqIndex(self.corpus, self.rules, model, thresholds, self.candidates, self._by_id)

    def lexical(self) -> FaqIndex:
        """This index without its semantic layer (for comparisons)."""
        return replace(self, semantic=None)

    def semantic_text(self, text: str) -> str:
        """A message as the embedding model sees it: normalised, fillers removed."""
        normalized = self.rules.normalize(text)
        return " ".join(self.rules.remove_fillers(normalized).split()) or normalized

    @property
    def entries(self) -> tuple[KbEntry, ...]:
        """The indexed entries, in build order."""
        return self.corpus.entries

    def entry(self, entry_id: str) -> KbEntry | None:
        """The entry with this external id, if indexed."""
        position = self._by_id.get(entry_id)
        return None if position is None else self.corpus.entries[position]

    def match(self, text: str, allowed: Callable[[str], bool] | None = None) -> FaqMatch:
        """The entry that answers `text`, or `entry_id=None` when the bot should stay quiet.

        `allowed`, if given, says which entry ids may answer here (group scope, validity);
        the others are left out before the best candidate is chosen.
        """
        is_question = self.rules.looks_like_question(text)
        if self.rules.is_small_talk(text):
            return FaqMatch(None, 0.0, "small_talk", is_question)
        candidates = self.rank(text)
        if allowed is not None:
            candidates = tuple(c for c in candidates if allowed(c.entry_id))
        if not candidates:
            return FaqMatch(None, 0.0, "empty", is_question, candidates)
        best = candidates[0]
        question = self.thresholds.question if self.semantic is None else self.semantic.threshold
        statement = max(question, self.thresholds.statement)
        threshold = question if is_question else statement
        if best.score < threshold:
            reason = "low_confidence" if is_question else "not_a_question"
            return FaqMatch(None, best.score, reason, is_question, candidates)
        return FaqMatch(best.entry_id, best.score, "answer", is_question, candidates)

    def rank(self, text: str, exclusion: Exclusion | None = None) -> tuple[Candidate, ...]:
        """Candidate entries for a text, best first, scored by the confidence model."""
        analysis = self.corpus.analyzer.analyze(text)
        exclusion = exclusion or Exclusion()
        scored = self.features(analysis, exclusion)
        model = self.model
        if self.semantic is not None and scored:
            query = self.semantic.embed([self.semantic_text(text)])[0]
            scored = self.semantic.extend(scored, self.model, query, exclusion.docs)
            model = self.semantic.model
        ranked = sorted(
            (Candidate(self.corpus.entries[e].id, model.score(f), f) for e, f in scored),
            key=lambda candidate: candidate.score,
            reverse=True,
        )
        return tuple(ranked)

    def features(self, analysis: Analysis, exclusion: Exclusion) -> list[tuple[int, Features]]:
        """Features of the first stage's best entries for an analysed text."""
        corpus = self.corpus
        unique = tuple(dict.fromkeys(analysis.terms))
        hidden = corpus.hidden_terms(unique, exclusion)
        query_terms = {
            term: corpus.unknown_idf * general_weight(term)
            if term in hidden
            else corpus.weight(term)
            for term in unique
        }
        total = sum(query_terms.values())
        if len(corpus.doc_entry) == 0 or (total <= 0 and not analysis.grams):
            return []
        gram_query = _unit_vector(Counter(analysis.grams), corpus.gram_idf)
        doc_word = corpus.word_postings.dot({t: 1.0 / total for t in query_terms} if total else {})
        doc_gram = corpus.gram_postings.dot(gram_query)
        doc_score = _WORD_SHARE * doc_word + (1 - _WORD_SHARE) * doc_gram
        if exclusion.docs:
            doc_score[list(exclusion.docs)] = -1.0
        entry_score = np.maximum.reduceat(doc_score, corpus.entry_start)
        answer_score = corpus.answer_postings.dot(
            _unit_vector(Counter(analysis.grams), corpus.answer_idf)
        )
        if exclusion.answers:
            answer_score[list(exclusion.answers)] = 0.0
        entry_score += _ANSWER_SHARE * answer_score
        top = _top(entry_score, self.candidates + 1)
        # Coverage counts what a word means in general Chinese, not how rare it is in this KB:
        # 积分 is in many entries yet is still the point of "积分会过期吗".
        query_terms = {term: general_weight(term) for term in unique}
        total = sum(query_terms.values())
        unknown = self._unknown_share(query_terms, total, hidden, exclusion)
        asked = corpus.intents_of(analysis.text)
        result: list[tuple[int, Features]] = []
        for rank, entry in enumerate(top[: self.candidates]):
            rival = top[1] if rank == 0 and len(top) > 1 else top[0]
            margin = float(entry_score[entry] - entry_score[rival]) if rival != entry else 0.0
            values = self._entry_features(entry, query_terms, total, doc_gram, exclusion)
            if values is not None:
                agreement = self._intent_agreement(entry, asked, exclusion)
                result.append((int(entry), Features((*values, unknown, margin, agreement))))
        return result

    def _entry_features(
        self,
        entry: int,
        query_terms: Mapping[str, float],
        total: float,
        doc_gram: FloatArray,
        exclusion: Exclusion,
    ) -> tuple[float, float, float, float] | None:
        corpus = self.corpus
        start, stop = int(corpus.entry_start[entry]), _stop(corpus, entry)
        docs = [d for d in range(start, stop) if d not in exclusion.docs]
        if not docs:
            return None
        union = frozenset().union(*(corpus.doc_terms[d] for d in docs), corpus.tag_terms[entry])
        answer = "" if entry in exclusion.answers else corpus.answer_texts[entry]
        covered = sum(w for t, w in query_terms.items() if t in union)
        in_answer = sum(w for t, w in query_terms.items() if t not in union and t in answer)
        share = 1.0 / total if total > 0 else 0.0
        return (
            covered * share,
            max(self._phrasing_coverage(corpus.doc_terms[d], query_terms) for d in docs),
            float(max(doc_gram[d] for d in docs)),
            in_answer * share,
        )

    def _intent_agreement(self, entry: int, asked: frozenset[str], exclusion: Exclusion) -> float:
        """1 if some phrasing asks the same kind of question, 0 if none does, ½ if unknown."""
        corpus = self.corpus
        start, stop = int(corpus.entry_start[entry]), _stop(corpus, entry)
        offered = frozenset().union(
            *(corpus.doc_intents[d] for d in range(start, stop) if d not in exclusion.docs)
        )
        if not asked or not offered:
            return 0.5
        return 1.0 if asked & offered else 0.0

    def _phrasing_coverage(self, terms: frozenset[str], query_terms: Mapping[str, float]) -> float:
        weights = [(general_weight(t), t in query_terms) for t in terms]
        total = sum(w for w, _ in weights)
        return sum(w for w, found in weights if found) / total if total > 0 else 0.0

    def _unknown_share(
        self,
        query_terms: Mapping[str, float],
        total: float,
        hidden: frozenset[str],
        exclusion: Exclusion,
    ) -> float:
        if total <= 0:
            return 1.0
        corpus = self.corpus
        unknown = sum(
            weight
            for term, weight in query_terms.items()
            if (term not in corpus.term_weight or term in hidden)
            and not corpus.in_answers(term, exclusion)
        )
        return unknown / total


def _stop(corpus: _Corpus, entry: int) -> int:
    if entry + 1 < len(corpus.entry_start):
        return int(corpus.entry_start[entry + 1])
    return len(corpus.doc_entry)


def _top(scores: FloatArray, count: int) -> list[int]:
    count = min(count, len(scores))
    if count <= 0:
        return []
    part = np.argpartition(-scores, count - 1)[:count]
    return [int(i) for i in part[np.argsort(-scores[part], kind="stable")]]


def _unit_vector(counts: Mapping[str, int], idf: Mapping[str, float]) -> dict[str, float]:
    vector = {
        g: (1 + math.log(c) if c > 1 else 1.0) * idf[g] for g, c in counts.items() if g in idf
    }
    norm = math.sqrt(sum(v * v for v in vector.values()))
    return {g: v / norm for g, v in vector.items()} if norm > 0 else {}


def _build_corpus(entries: tuple[KbEntry, ...], config: FaqConfig) -> _Corpus:
    _check_unique(entries)
    rules = TextRules(config.text)
    synonyms = Synonyms(config.synonyms)
    domain = _domain_words(entries, rules, synonyms)
    analyzer = Analyzer(rules, synonyms, Segmenter(domain), frozenset(config.text.stop_words))
    doc_entry: list[int] = []
    entry_start: list[int] = []
    analyses: list[Analysis] = []
    memo: dict[str, Analysis] = {}  # phrasings and tags repeat across entries
    for position, entry in enumerate(entries):
        entry_start.append(len(doc_entry))
        for phrasing in entry.phrasings:
            analyses.append(_analyze(analyzer, phrasing, memo))
            doc_entry.append(position)
    tag_terms = tuple(
        frozenset(t for tag in entry.tags for t in _analyze(analyzer, tag, memo).terms)
        for entry in entries
    )
    answers = tuple(analyzer.answer_text(entry.answer) for entry in entries)
    corpus = _assemble(entries, analyzer, analyses, doc_entry, entry_start, tag_terms, answers)
    intents = tuple(
        (name, re.compile("|".join(re.escape(analyzer.prepare(cue)) for cue in cues)))
        for name, cues in config.intents
        if cues
    )
    probe = replace(corpus, intents=intents)
    return replace(probe, doc_intents=tuple(probe.intents_of(a.text) for a in analyses))


def _assemble(
    entries: tuple[KbEntry, ...],
    analyzer: Analyzer,
    analyses: Sequence[Analysis],
    doc_entry: Sequence[int],
    entry_start: Sequence[int],
    tag_terms: tuple[frozenset[str], ...],
    answers: tuple[str, ...],
) -> _Corpus:
    doc_terms = tuple(frozenset(a.terms) for a in analyses)
    term_df = _entry_frequencies(doc_terms, doc_entry, tag_terms)
    count = max(len(entries), 1)
    idf = {t: _bm25_idf(count, df) for t, df in term_df.items()}
    term_count = Counter(t for terms in (*doc_terms, *tag_terms) for t in terms)
    unknown_idf = _bm25_idf(count, 0)
    term_weight = {t: w * general_weight(t) for t, w in idf.items()}
    vocabulary = set(term_weight)
    gram_df = _entry_frequencies(
        tuple(frozenset(a.grams) for a in analyses), doc_entry, tuple(frozenset() for _ in entries)
    )
    gram_idf = {g: _bm25_idf(count, df) for g, df in gram_df.items()}
    answer_gram_sets = [frozenset(_answer_grams(text)) for text in answers]
    answer_df = Counter(g for grams in answer_gram_sets for g in grams)
    answer_idf = {g: _bm25_idf(count, df) for g, df in answer_df.items()}
    return _Corpus(
        entries=entries,
        analyzer=analyzer.with_typo_correction(vocabulary),
        doc_entry=np.asarray(doc_entry, dtype=np.int32),
        entry_start=np.asarray(entry_start or [0], dtype=np.int32),
        doc_terms=doc_terms,
        tag_terms=tag_terms,
        answer_texts=answers,
        term_weight=term_weight,
        term_count=term_count,
        unknown_idf=unknown_idf,
        answer_gram_count=answer_df,
        word_postings=_word_postings(analyses, term_weight),
        gram_postings=Postings.build([_unit_vector(Counter(a.grams), gram_idf) for a in analyses]),
        answer_postings=Postings.build(
            [_unit_vector(Counter(_answer_grams(text)), answer_idf) for text in answers]
        ),
        gram_idf=gram_idf,
        answer_idf=answer_idf,
        intents=(),
        doc_intents=(),
    )


def _word_postings(analyses: Sequence[Analysis], weight: Mapping[str, float]) -> Postings:
    lengths = [max(len(a.terms), 1) for a in analyses]
    average = sum(lengths) / max(len(lengths), 1)
    vectors: list[dict[str, float]] = []
    for analysis, length in zip(analyses, lengths, strict=True):
        norm = _K1 * (1 - _B + _B * length / average)
        counts = Counter(analysis.terms)
        vectors.append(
            {t: weight[t] * c * (_K1 + 1) / (c + norm) / (_K1 + 1) for t, c in counts.items()}
        )
    return Postings.build(vectors)


def _answer_grams(text: str) -> list[str]:
    return [text[i : i + 2] for i in range(len(text) - 1)] + list(text)


def _entry_frequencies(
    doc_sets: Sequence[frozenset[str]],
    doc_entry: Sequence[int],
    extra: Sequence[frozenset[str]],
) -> Counter[str]:
    per_entry: list[set[str]] = [set(e) for e in extra]
    for features, entry in zip(doc_sets, doc_entry, strict=True):
        per_entry[entry].update(features)
    return Counter(f for features in per_entry for f in features)


def _bm25_idf(count: int, df: int) -> float:
    return math.log(1 + (count - df + 0.5) / (df + 0.5))


def _analyze(analyzer: Analyzer, text: str, memo: dict[str, Analysis]) -> Analysis:
    analysis = memo.get(text)
    if analysis is None:
        analysis = memo[text] = analyzer.analyze(text)
    return analysis


def _domain_words(entries: Sequence[KbEntry], rules: TextRules, synonyms: Synonyms) -> set[str]:
    """The KB's own vocabulary for jieba: tags and synonym group heads, as matching sees them."""
    words = {rules.clean(tag) for entry in entries for tag in entry.tags}
    words.update(rules.clean(word) for word in synonyms.words)
    return {word for word in words if 1 < len(word) <= 8 and " " not in word}


def _check_unique(entries: Sequence[KbEntry]) -> None:
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise ValueError(f"duplicate entry id {entry.id!r}")
        seen.add(entry.id)


class FaqIndexHolder:
    """The current index of a process; rebuilding swaps in a new one without blocking matches."""

    def __init__(self, index: FaqIndex) -> None:
        self._index = index
        self._lock = threading.Lock()

    @property
    def index(self) -> FaqIndex:
        """The index in force (reading a reference is atomic)."""
        return self._index

    def swap(self, index: FaqIndex) -> None:
        """Put a newly built index in force."""
        with self._lock:
            self._index = index

    def rebuild(self, entries: Iterable[KbEntry], config: FaqConfig) -> FaqIndex:
        """Build an index from the entries and put it in force; matches go on meanwhile."""
        index = FaqIndex.build(entries, config)
        self.swap(index)
        return index

    def match(self, text: str, allowed: Callable[[str], bool] | None = None) -> FaqMatch:
        """Match against the index in force."""
        return self._index.match(text, allowed)
