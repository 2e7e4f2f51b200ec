"""Normalisation: each evasion folds to the plain form, and spans map back to the original."""

from __future__ import annotations

import random

import pytest

from app.moderation.normalize import compact, fold, normalize


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("ＡＢＣ１２３", "abc123"),  # full width, case
        ("加\u200b微\u200c信\u2060号", "加微信号"),  # zero-width characters
        ("v\u0336x", "微信"),  # combining overlay
        ("加 微 信", "加微信"),  # spaces between CJK characters
        ("加😀微😀信", "加微信"),  # emoji between CJK characters
        ("加[爱心]微信", "加微信"),  # WeChat emoji code between CJK characters
        ("代購貸款", "代购贷款"),  # traditional → simplified
        ("vх", "微信"),  # Cyrillic х
    ],
)
def test_evasions_fold_to_the_plain_form(written: str, expected: str) -> None:
    assert fold(written) == expected


@pytest.mark.parametrize(
    "variant", ["威信", "薇信", "徽信", "卫星", "V信", "vx", "VX", "wx", "Wechat", "v❤", "微x"]
)
def test_wechat_variants_become_wechat(variant: str) -> None:
    assert fold(f"加{variant}") == "加微信"


@pytest.mark.parametrize(
    ("variant", "expected"), [("扣扣", "qq"), ("企鹅号", "qq号"), ("q q", "qq")]
)
def test_qq_variants_become_qq(variant: str, expected: str) -> None:
    assert fold(variant) == expected


def test_latin_variants_need_a_boundary() -> None:
    assert fold("wxid_abc") == "wxid_abc"  # not 微信id
    assert fold("avx2") == "avx2"
    assert fold("v领") == "v领"  # a lone v is not WeChat


def test_plus_before_a_contact_word_means_add() -> None:
    assert fold("+V 123") == "加v 123"
    assert fold("➕微信") == "加微信"


@pytest.mark.parametrize(
    ("written", "expected"),
    [("shop点com", "shop.com"), ("shop 点 cn", "shop.cn"), ("shop(dot)net", "shop.net")],
)
def test_spelled_out_dots_become_dots(written: str, expected: str) -> None:
    assert fold(written) == expected


def test_dot_words_elsewhere_stay() -> None:
    assert fold("三点com") == "三点com"  # no Latin label before it
    assert fold("abc点开") == "abc点开"


@pytest.mark.parametrize(
    ("written", "digits"),
    [
        ("壹叁捌壹贰叁肆伍陆柒捌", "13812345678"),
        ("一三八 一二三四 五六七八", "13812345678"),
        ("幺三八零零零零一一一一", "13800001111"),
    ],
)
def test_numeral_runs_become_digits(written: str, digits: str) -> None:
    assert compact(written) == digits


def test_short_numeral_runs_stay_words() -> None:
    assert fold("一二三四") == "一二三四"
    assert fold("三五成群") == "三五成群"


def test_compact_keeps_only_letters_and_digits() -> None:
    assert compact("1 3 8-1234_5678，好!") == "13812345678好"


def test_clause_punctuation_between_cjk_is_kept_in_text() -> None:
    assert normalize("滚，别说了").text == "滚,别说了"


@pytest.mark.parametrize(
    ("original", "term"),
    [
        ("大家好加\u200b微 信领福利", "加微信"),
        ("ＶＸ：abc", "微信"),
        ("请加🌸威🌸信", "加微信"),
    ],
)
def test_compact_spans_map_back_to_the_original(original: str, term: str) -> None:
    norm = normalize(original)
    start = norm.compact.index(term)
    begin, end = norm.span("compact", start, start + len(term))
    written = original[begin:end]
    assert written[0] == original[begin]
    assert fold(written).replace(" ", "") == term


def test_text_spans_cover_expanded_characters() -> None:
    norm = normalize("ﬁ加")  # the ligature folds to two letters
    assert norm.text == "fi加"
    assert norm.span("text", 0, 1) == (0, 1)
    assert norm.span("text", 2, 3) == (1, 2)


def test_mapped_and_fast_paths_agree_on_random_text() -> None:
    rng = random.Random(7)
    alphabet = "加微信威薇扣vxqwVX壹叁一三 　\u200b😀[]点comＡ１，。_-.-滾貸" + "abc123"
    for _ in range(300):
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 30)))
        norm = normalize(text)
        for index in range(len(norm.text)):
            begin, end = norm.span("text", index, index + 1)
            assert 0 <= begin < end <= len(text)
