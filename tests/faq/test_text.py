"""Normalisation, small-talk and question detection."""

from __future__ import annotations

import pytest

from app.faq.text import (
    chinese_numerals_to_digits,
    collapse_repeats,
    default_rules,
    is_small_talk,
    looks_like_question,
    normalize,
    to_simplified,
)


def test_normalize_folds_width_case_script_and_drops_decoration() -> None:
    assert normalize("@小助手\u2005ＶＩＰ運費多少錢？👍[玫瑰]") == "vip运费多少钱?"


def test_normalize_drops_other_mentions_and_zero_width() -> None:
    assert normalize("@花屿-小满 配\u200b送费") == "配送费"


def test_to_simplified_leaves_simplified_text_alone() -> None:
    assert to_simplified("幾點前下單") == "几点前下单"
    assert to_simplified("几点前下单") == "几点前下单"


def test_clean_removes_fillers_and_writes_numbers_as_digits() -> None:
    assert default_rules().clean("请问姐妹们，送到十公里外要多少钱") == "送到10公里外要多少钱"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("两点到四点", "2点到4点"), ("二十五元", "25元"), ("一下", "一下"), ("清零一次", "清零一次")],
)
def test_chinese_numerals_before_a_measure_word(text: str, expected: str) -> None:
    assert chinese_numerals_to_digits(text) == expected


def test_collapse_repeats() -> None:
    assert collapse_repeats("哈哈哈哈") == "哈"
    assert collapse_repeats("好的好的") == "好的"


@pytest.mark.parametrize(
    "text",
    [
        "早上好",
        "早上好呀各位姐妹",
        "哈哈哈哈哈",
        "谢谢群主",
        "👍👍👍",
        "好的好的",
        "晚安[月亮]",
        "@小助手",
    ],
)
def test_small_talk_is_recognised(text: str) -> None:
    assert is_small_talk(text)


@pytest.mark.parametrize("text", ["运费多少", "谢谢，请问几点关门", "早上好，积分怎么用？"])
def test_questions_are_not_small_talk(text: str) -> None:
    assert not is_small_talk(text)


@pytest.mark.parametrize(
    "text",
    ["运费多少", "能开发票吗", "店在哪", "你们招不招人", "积分怎么用", "几点关门", "是否包邮?"],
)
def test_questions_read_as_questions(text: str) -> None:
    assert looks_like_question(text)


@pytest.mark.parametrize("text", ["今天的花真好看", "收到了", "签到成功"])
def test_statements_do_not_read_as_questions(text: str) -> None:
    assert not looks_like_question(text)
