"""The logistic confidence model."""

from __future__ import annotations

import pytest

from app.faq.scoring import DEFAULT_MODEL, FEATURES, Features, LogisticModel, fit_model


def _features(value: float) -> Features:
    return Features(tuple(value for _ in FEATURES))


def test_score_is_a_probability() -> None:
    assert 0.0 < DEFAULT_MODEL.score(_features(0.0)) < 0.5
    assert 0.0 <= DEFAULT_MODEL.score(_features(100.0)) <= 1.0


def test_features_must_have_every_value() -> None:
    with pytest.raises(ValueError, match="features"):
        Features((1.0,))


def test_fit_separates_good_from_bad() -> None:
    flat = LogisticModel(weights=tuple(0.0 for _ in FEATURES), bias=0.0)
    samples = [_features(0.9)] * 20 + [_features(0.1)] * 20
    labels = [True] * 20 + [False] * 20
    model = fit_model(samples, labels, prior=flat, strength=0.1)
    assert model.score(_features(0.9)) > 0.8
    assert model.score(_features(0.1)) < 0.2


def test_without_samples_the_prior_is_kept() -> None:
    assert fit_model([], [], prior=DEFAULT_MODEL) is DEFAULT_MODEL


def test_describe_names_every_feature() -> None:
    text = DEFAULT_MODEL.describe()
    assert all(name in text for name in FEATURES)
