"""Segmentation, synonyms, typo correction and word weights."""

from __future__ import annotations

from app.faq.analyzer import (
    Analyzer,
    Segmenter,
    Synonyms,
    TypoCorrector,
    base_tokenizer,
    char_grams,
    general_weight,
    sound_key,
)
from app.faq.text import default_rules


def test_synonyms_map_to_the_group_head_longest_first() -> None:
    synonyms = Synonyms([["运费", "配送费", "邮费"], ["配送", "送货"]])
    assert synonyms.apply("配送费和送货") == "运费和配送"
    assert synonyms.canonical("邮费") == "运费"
    assert synonyms.canonical("花") == "花"


def test_typo_corrector_uses_sound() -> None:
    corrector = TypoCorrector(["积分", "签到"])
    assert sound_key("积份") == sound_key("积分")
    assert corrector.correct(["积份", "怎么", "用"]) == ["积分", "怎么", "用"]
    assert corrector.correct(["积", "份"]) == ["积分"]
    assert corrector.correct(["花瓶"]) == ["花瓶"]


def test_domain_words_stay_whole_and_sub_words_are_added() -> None:
    analyzer = Analyzer(
        default_rules(), Synonyms([]), Segmenter(["当日达", "配送范围"]), frozenset()
    )
    terms = analyzer.analyze("当日达的配送范围").terms
    assert "当日达" in terms
    assert {"配送", "范围", "配送范围"} <= set(terms)


def test_segmenter_cuts_as_jieba_and_knows_its_domain_words() -> None:
    texts = ["请问今天的团购水果什么时候到货", "当日达的配送范围有多大", "积分可以抵扣运费吗"]
    plain, with_domain = Segmenter([]), Segmenter(["当日达", "抵扣运费", "x"])

    for text in texts:
        assert plain.cut(text) == base_tokenizer().lcut(text, HMM=False)
    assert "当日达" not in plain.cut(texts[1])
    assert "当日达" in with_domain.cut(texts[1])
    assert with_domain.is_word("抵扣运费")
    assert not plain.is_word("抵扣运费")
    assert plain.is_word("配送")
    assert not plain.is_word("配送范")  # a prefix of 配送范围, not a word
    assert not with_domain.is_word("x")  # one letter is never a domain word


def test_stop_words_are_dropped_from_terms_but_not_grams() -> None:
    analyzer = Analyzer(default_rules(), Synonyms([]), Segmenter([]), frozenset({"的"}))
    analysis = analyzer.analyze("玫瑰的花期")
    assert "的" not in analysis.terms
    assert "的" in analysis.grams


def test_char_grams() -> None:
    assert char_grams("玫瑰 花") == ["玫", "瑰", "玫瑰", "花"]


def test_function_words_weigh_less_than_content_words() -> None:
    assert general_weight("哪里") < general_weight("停车")
    assert general_weight("什么") < general_weight("蓝色")
    assert 0.0 < general_weight("的") <= 1.0
