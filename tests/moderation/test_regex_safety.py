"""Regex safety: patterns that backtrack catastrophically or fail on Chinese are refused."""

from __future__ import annotations

import pytest

from app.moderation.regex_safety import UnsafePatternError, check_pattern


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a+)+$", "nested quantifier"),
        (r"(?:\d+\s?)*x", "nested quantifier"),
        (r"(a|ab)*c", "nested quantifier"),
        (r"(?:[a-z]+\.){2,}com", "nested quantifier"),
        (r"((a|b)c)+", "nested quantifier"),
        (r"\b加微信\b", "does not work for Chinese"),
        (r"(a)\1", "backreferences"),
        (r"(?P<x>a)(?P=x)", "backreferences"),
        (r"(a", "unbalanced"),
        (r"[abc", "unterminated"),
        (r"a{2", None),  # a literal "{": accepted by the scanner, compiled by re
    ],
)
def test_unsafe_patterns_are_refused(pattern: str, reason: str | None) -> None:
    if reason is None:
        assert check_pattern(pattern).search("a{2")
        return
    with pytest.raises(UnsafePatternError, match=reason):
        check_pattern(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        r"加.{0,3}微信",
        r"(?:\d[\s-]?){8}",  # a repeated group whose inner parts match at most once
        r"(?<![a-z0-9])v[:=]",
        r"(?:转账|汇款)(?:到|给)(?:这个|我的)",
        r"[^\]]+x",
        r"a{,3}b",
    ],
)
def test_linear_patterns_are_accepted(pattern: str) -> None:
    assert check_pattern(pattern).pattern == pattern


def test_overlong_patterns_are_refused() -> None:
    with pytest.raises(UnsafePatternError, match="longer than"):
        check_pattern("a" * 1001)


def test_invalid_syntax_is_reported() -> None:
    with pytest.raises(UnsafePatternError, match="invalid regular expression"):
        check_pattern("a**")
