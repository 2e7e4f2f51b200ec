"""Matching: colloquial, traditional and misspelt questions; silence on chatter and strangers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import jieba
import pytest

from app.faq.config import FaqConfig
from app.faq.index import FaqIndex, FaqIndexHolder, KbEntry

from .conftest import TINY_KB


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@小助手 请问姐妹们送货要多少钱呀[玫瑰]", "S1"),  # colloquial, fillers, emoji
        ("運費怎麼算？", "S1"),  # traditional characters, synonym 运费 → 配送费 group
        ("几点关门呀", "S2"),
        ("积分怎么用", "S3"),
        ("退钱多久能到账", "S5"),
        ("玫瑰花能放多久", "S6"),
        ("怎么找人工", "S8"),
        ("下午三点下单今天能送到吗", "S9"),
    ],
)
def test_matches_the_right_entry(tiny_index: FaqIndex, text: str, expected: str) -> None:
    match = tiny_index.match(text)
    assert match.entry_id == expected
    assert match.reason == "answer"
    assert 0.0 <= match.score <= 1.0


@pytest.mark.parametrize("text", ["早上好", "哈哈哈哈", "谢谢群主", "👍👍"])
def test_small_talk_is_never_answered(tiny_index: FaqIndex, text: str) -> None:
    match = tiny_index.match(text)
    assert match.entry_id is None
    assert match.reason == "small_talk"


@pytest.mark.parametrize("text", ["明天会下雨吗", "有没有插花课程", "玫瑰的花语是什么"])
def test_questions_the_kb_does_not_cover_get_no_answer(tiny_index: FaqIndex, text: str) -> None:
    match = tiny_index.match(text)
    assert match.entry_id is None
    assert match.reason == "low_confidence"


def test_a_statement_needs_more_confidence(tiny_index: FaqIndex) -> None:
    match = tiny_index.match("今天的天气真好")
    assert match.entry_id is None
    assert not match.is_question


def test_homophone_typo_is_corrected(tiny_index: FaqIndex) -> None:
    analysis = tiny_index.corpus.analyzer.analyze("积份怎么用")
    assert "积分" in analysis.terms
    assert tiny_index.match("积份怎么用").entry_id == "S3"


def test_candidates_are_sorted_and_known(tiny_index: FaqIndex) -> None:
    candidates = tiny_index.match("积分能换礼品吗").candidates
    scores = [c.score for c in candidates]
    assert scores == sorted(scores, reverse=True)
    assert {c.entry_id for c in candidates} <= {e.id for e in TINY_KB}


def test_small_kb_keeps_the_configured_threshold(
    tiny_index: FaqIndex, faq_config: FaqConfig
) -> None:
    assert not tiny_index.thresholds.calibrated
    assert tiny_index.thresholds.question == faq_config.matching.threshold


def test_empty_kb_answers_nothing(faq_config: FaqConfig) -> None:
    match = FaqIndex.build((), faq_config).match("运费多少")
    assert match.entry_id is None
    assert match.candidates == ()


def test_duplicate_ids_are_refused(faq_config: FaqConfig) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        FaqIndex.build((TINY_KB[0], TINY_KB[0]), faq_config)


def test_the_global_jieba_dictionary_is_not_touched(tiny_index: FaqIndex) -> None:
    assert tiny_index.corpus.analyzer.analyze("当日达截止几点").terms
    assert "当日达" not in jieba.dt.FREQ


def test_holder_swaps_in_a_rebuilt_index(tiny_index: FaqIndex, faq_config: FaqConfig) -> None:
    holder = FaqIndexHolder(tiny_index)
    assert holder.match("有礼品包装吗").entry_id is None
    extra = KbEntry("S10", "有礼品包装吗？", ("包装要加钱吗",), "免费包装。", ("包装",))
    rebuilt = holder.rebuild((*TINY_KB, extra), faq_config)
    assert holder.index is rebuilt
    assert holder.match("有礼品包装吗").entry_id == "S10"
    assert tiny_index.match("有礼品包装吗").entry_id is None  # the old index is unchanged


def test_concurrent_matches_agree(tiny_index: FaqIndex) -> None:
    texts = ["运费多少钱", "几点关门", "积分怎么用", "早上好", "明天会下雨吗"] * 40
    expected = [tiny_index.match(t).entry_id for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(lambda t: tiny_index.match(t).entry_id, texts)) == expected
