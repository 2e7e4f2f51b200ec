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
        names: dict[str, int] = {}
        features: list[int] = []
        docs: list[int] = []
        weights: list[float] = []
        for doc, vector in enumerate(vectors):
            features.extend([names.setdefault(feature, len(names)) for feature in vector])
            docs.extend([doc] * len(vector))
            weights.extend(vector.values())
        order = np.argsort(np.asarray(features, dtype=np.int32), kind="stable")
        doc_ids = np.asarray(docs, dtype=np.int32)[order]
        values = np.asarray(weights, dtype=np.float64)[order]
        ends = np.cumsum(np.bincount(np.asarray(features, dtype=np.int32), minlength=len(names)))
        starts = ends - np.bincount(np.asarray(features, dtype=np.int32), minlength=len(names))
        postings = {
            name: (doc_ids[starts[i] : ends[i]], values[starts[i] : ends[i]])
            for name, i in names.items()
        }
        return cls(len(vectors), postings)

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
