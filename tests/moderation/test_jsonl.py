"""The dry run behind `qunyun moderation check --jsonl`: SPEC output shape, errors by line."""

from __future__ import annotations

import json

import pytest

from app.moderation.engine import ContentChecker
from app.moderation.jsonl import JsonlInputError, check_jsonl


def test_output_lines_follow_the_spec(checker: ContentChecker) -> None:
    lines = ['{"text": "大家好加微信领福利"}', "", '{"text": "今天的花真好看"}']
    out = [json.loads(line) for line in check_jsonl(checker, lines)]
    assert out == [
        {
            "text": "大家好加微信领福利",
            "violation": True,
            "category": "ad",
            "rules": ["banned_words.ad"],
        },
        {"text": "今天的花真好看", "violation": False, "category": None, "rules": []},
    ]


def test_types_and_urls_are_used(checker: ContentChecker) -> None:
    line = '{"text": "看看", "type": "link", "url": "https://other.example.net/"}'
    (out,) = check_jsonl(checker, [line])
    assert json.loads(out)["rules"] == ["links"]


def test_output_keeps_chinese_readable(checker: ContentChecker) -> None:
    (out,) = check_jsonl(checker, ['{"text": "签到"}'])
    assert "签到" in out


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{", "line 2: not JSON"),
        ('{"q": "x"}', "line 2: expected an object with a string 'text'"),
        ('{"text": "x", "type": "sticker"}', "line 2: unknown type 'sticker'"),
        ('{"text": "x", "url": 3}', "line 2: 'url' must be a string"),
    ],
)
def test_bad_input_names_the_line(checker: ContentChecker, raw: str, message: str) -> None:
    with pytest.raises(JsonlInputError, match=message):
        list(check_jsonl(checker, ['{"text": "ok"}', raw]))
