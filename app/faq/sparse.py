"""Inverted postings with NumPy arrays: the first, cheap stage of FAQ matching.

Built once per index rebuild; read-only afterwards, so concurrent matches need no lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]


class Postings:
    """Feature → (document ids, weights); `dot` scores every document against a query."""

    def __init__(self, size: int, postings: Mapping[str, tuple[IntArray, FloatArray]]) -> None:
        self.size = size
        self._postings = dict(postings)

    @classmethod
    def build(cls, vectors: Sequence[Mapping[str, float]]) -> Postings:
        """Index one weighted feature vector per document."""
        ids: dict[str, list[int]] = {}
        weights: dict[str, list[float]] = {}
        for doc, vector in enumerate(vectors):
            for feature, weight in vector.items():
                ids.setdefault(feature, []).append(doc)
                weights.setdefault(feature, []).append(weight)
        arrays = {
            feature: (np.asarray(ids[feature], dtype=np.int32), np.asarray(weights[feature]))
            for feature in ids
        }
        return cls(len(vectors), arrays)

    def __contains__(self, feature: object) -> bool:
        return feature in self._postings

    def dot(self, query: Mapping[str, float]) -> FloatArray:
        """Score of every document: the sum of query weight × document weight per feature."""
        scores = np.zeros(self.size)
        for feature, weight in query.items():
            posting = self._postings.get(feature)
            if posting is not None:
                scores[posting[0]] += weight * posting[1]
        return scores
