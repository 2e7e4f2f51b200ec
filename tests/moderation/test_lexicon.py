"""Lexicon: normalised terms, first listing wins, innocent compounds, Latin edges."""

from __future__ import annotations

import pytest

from app.moderation.lexicon import Lexicon, LexiconTerm, make_term, parse_word_list
from app.moderation.normalize import normalize


def found(lexicon: Lexicon, text: str) -> list[str]:
    norm = normalize(text)
    return [norm.compact[m.start : m.end] for m in lexicon.find(norm)]


def test_finds_a_term_inside_a_sentence() -> None:
    lexicon = Lexicon.from_terms([("加微信", "ad")])
    assert found(lexicon, "大家好加微信领福利") == ["加微信"]


def test_terms_are_normalised_like_messages() -> None:
    lexicon = Lexicon.from_terms([("加威信", "ad"), ("代購", "ad")])
    assert found(lexicon, "加 V 信") == ["加微信"]
    assert found(lexicon, "找我代购") == ["代购"]


def test_first_listing_of_a_term_wins() -> None:
    lexicon = Lexicon.from_terms(
        [LexiconTerm("外围", "ad", tag="adult"), ("外围", "other"), ("外圍", "scam")]
    )
    assert lexicon.terms() == [LexiconTerm("外围", "ad", tag="adult")]


def test_innocent_compounds_hide_the_term_inside_them() -> None:
    lexicon = Lexicon.from_terms([("垃圾", "abuse"), ("滚", "abuse")], innocent=["垃圾袋", "滚动"])
    assert found(lexicon, "买了一卷垃圾袋") == []
    assert found(lexicon, "屏幕滚动播放") == []
    assert found(lexicon, "垃圾袋也是垃圾") == ["垃圾"]


def test_latin_terms_need_latin_boundaries() -> None:
    lexicon = Lexicon.from_terms([("sb", "abuse"), ("加v", "ad")])
    assert found(lexicon, "this bus") == []
    assert found(lexicon, "usb接口") == []
    assert found(lexicon, "s b 客服") == ["sb"]
    assert found(lexicon, "加V：abc123") == ["加v"]
    assert found(lexicon, "加vip会员") == []


def test_overlapping_terms_are_all_found() -> None:
    lexicon = Lexicon.from_terms([("刷单", "scam"), ("刷单返利", "scam"), ("返利", "scam")])
    assert sorted(found(lexicon, "刷单返利")) == ["刷单", "刷单返利", "返利"]


def test_characters_outside_the_bmp_keep_offsets_right() -> None:
    lexicon = Lexicon.from_terms([("𠀀好", "other"), ("加微信", "ad")])
    norm = normalize("𠀀好加微信")
    assert [(m.start, m.end) for m in lexicon.find(norm)] == [(0, 2), (2, 5)]


def test_a_large_lexicon_still_finds_its_terms() -> None:
    terms = [(f"词{i:05d}条", "spam") for i in range(10_000)]
    lexicon = Lexicon.from_terms(terms)
    assert len(lexicon) == 10_000
    assert found(lexicon, "前面词04321条后面") == ["词04321条"]


def test_empty_lexicon_finds_nothing() -> None:
    assert Lexicon.from_terms([]).find(normalize("加微信")) == []


def test_make_term_rejects_unknown_categories_and_empty_terms() -> None:
    with pytest.raises(ValueError, match="unknown category 'fraud'"):
        make_term("刷单", "fraud")
    with pytest.raises(ValueError, match="no letters or digits"):
        make_term("！！", "spam")


def test_word_lists_skip_blanks_and_comments_and_name_bad_lines() -> None:
    terms = parse_word_list("# 注释\n刷单\n\n 套现 \n", "scam")
    assert [t.term for t in terms] == ["刷单", "套现"]
    with pytest.raises(ValueError, match="line 2"):
        parse_word_list("刷单\n～～\n", "scam")
