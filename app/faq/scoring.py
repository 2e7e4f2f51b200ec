"""The confidence model: candidate features → calibrated probability of being the right entry.

A logistic regression over a handful of match features. Its weights start from `DEFAULT_MODEL`
and are refitted, together with the answer threshold, by leave-one-out on the knowledge base's
own phrasings whenever an index is built (see `app.faq.calibrate`). Pure computation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FEATURES: tuple[str, ...] = (
    "query_coverage",  # share of the query's weight found in the entry's phrasings and tags
    "phrasing_coverage",  # best share of one phrasing's weight found in the query
    "char_similarity",  # best character uni+bigram cosine with one phrasing
    "answer_coverage",  # extra share of the query found only in the entry's answer
    "unknown_share",  # share of the query's weight the whole KB has never seen
    "margin",  # lead of this entry's first-stage score over the best other candidate
    "intent_agreement",  # 1 if a phrasing asks the same kind of question (when, where…), else 0
)

# Added by the semantic re-ranker (app.faq.semantic) after the lexical ones.
SEMANTIC_FEATURES: tuple[str, ...] = (
    "semantic_margin",  # this entry's best phrasing cosine minus the best other entry's
    "agreement",  # 1 if the embedding and the lexical ranking both put this entry first
    "lexical_confidence",  # the lexical model's calibrated confidence
)
FEATURE_COUNTS = (len(FEATURES), len(FEATURES) + len(SEMANTIC_FEATURES))


@dataclass(frozen=True, slots=True)
class Features:
    """One candidate entry's features, in the order of `FEATURES`."""

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.values) not in FEATURE_COUNTS:
            raise ValueError(f"expected {len(FEATURES)} features, got {len(self.values)}")


@dataclass(frozen=True, slots=True)
class LogisticModel:
    """p(right entry) = sigmoid(bias + Σ weight·feature)."""

    weights: tuple[float, ...]
    bias: float

    def score(self, features: Features) -> float:
        """Calibrated confidence in [0, 1]."""
        z = self.bias + sum(w * x for w, x in zip(self.weights, features.values, strict=True))
        return _sigmoid(z)

    def describe(self) -> str:
        """The weights as `name=value` pairs, for reports."""
        names = (*FEATURES, *SEMANTIC_FEATURES)[: len(self.weights)]
        pairs = (f"{name}={w:+.2f}" for name, w in zip(names, self.weights, strict=True))
        return f"bias={self.bias:+.2f} " + " ".join(pairs)


# Fitted by leave-one-out on a 45-entry flower-shop KB (app.faq.calibrate.fit_model with no
# prior); used as the prior, and as the model itself when a KB is too small to refit.
DEFAULT_MODEL = LogisticModel(
    weights=(3.59, 1.23, 2.76, 4.49, -2.39, 5.05, 0.10),
    bias=-5.54,
)


def fit_model(
    samples: Sequence[Features],
    labels: Sequence[bool],
    prior: LogisticModel = DEFAULT_MODEL,
    strength: float = 1.0,
) -> LogisticModel:
    """Maximum a-posteriori logistic regression (Newton steps, Gaussian prior around `prior`).

    `strength` is the prior's precision: with few samples the fit stays near the prior.
    """
    if not samples:
        return prior
    x = np.asarray([(1.0, *s.values) for s in samples])
    y = np.asarray(labels, dtype=float)
    centre = np.asarray((prior.bias, *prior.weights))
    beta = centre.copy()
    penalty = np.full(len(centre), strength)
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -30.0, 30.0)))
        gradient = x.T @ (p - y) + penalty * (beta - centre)
        hessian = (x.T * (p * (1 - p))) @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.max(np.abs(step))) < 1e-6:
            break
    return LogisticModel(weights=tuple(float(b) for b in beta[1:]), bias=float(beta[0]))


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
