"""Refuse regular expressions that can backtrack catastrophically or that mean nothing in Chinese.

Runs when rules are loaded (config file or admin API), never on messages. Python's `re` engine
backtracks, so a pattern such as ``(a+)+$`` takes exponential time on a crafted message (ReDoS —
the reason Red-DiscordBot declined regex filters). Rather than timing patterns, this check keeps
them in a shape that stays linear in practice:

- no repeated group that itself contains a repetition or an alternation: ``(a+)+``, ``(a|ab)*``;
- no backreferences (``\\1``, ``(?P=name)``) and no conditional groups;
- no ``\\b`` / ``\\B``: Python counts CJK characters as word characters, so ``\\b加微信\\b`` misses
  ``大家好加微信领福利``; use lookarounds instead.

Messages are also cut to `max_scan_chars` before matching, which bounds the polynomial cases left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PATTERN_LENGTH = 1000
_QUANTIFIER = re.compile(r"\{(\d*)(?:(,)(\d*))?\}")


class UnsafePatternError(ValueError):
    """A pattern was refused; the message says why and how to rewrite it."""


@dataclass(slots=True)
class _Group:
    start: int
    repeats: bool = False  # holds a quantifier that can match more than once
    alternates: bool = False  # holds a top-level `|`


def check_pattern(pattern: str) -> re.Pattern[str]:
    """Compile `pattern` after checking it is safe; raise `UnsafePatternError` otherwise."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise UnsafePatternError(f"pattern is longer than {MAX_PATTERN_LENGTH} characters")
    _Scanner(pattern).run()
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UnsafePatternError(f"invalid regular expression: {exc}") from None


class _Scanner:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.pos = 0
        self.stack = [_Group(start=0)]
        self.last_atom: _Group | None = None  # the group just closed, if the last atom was one

    def run(self) -> None:
        while self.pos < len(self.pattern):
            self._step(self.pattern[self.pos])
        if len(self.stack) != 1:
            raise UnsafePatternError("unbalanced parenthesis")

    def _step(self, char: str) -> None:
        if char == "\\":
            self._escape()
        elif char == "[":
            self._char_class()
        elif char == "(":
            self._open_group()
        elif char == ")":
            self._close_group()
        elif char == "|":
            self.stack[-1].alternates = True
            self._atom(None, 1)
        elif char in "*+?{":
            self._quantifier(char)
        else:
            self._atom(None, 1)

    def _atom(self, group: _Group | None, width: int) -> None:
        self.last_atom = group
        self.pos += width

    def _escape(self) -> None:
        nxt = self.pattern[self.pos + 1 : self.pos + 2]
        if nxt in ("b", "B"):
            raise UnsafePatternError(
                "\\b does not work for Chinese (CJK characters count as word characters); "
                "use lookarounds such as (?<![a-z]) and (?![a-z])"
            )
        if nxt.isdigit() and nxt != "0":
            raise UnsafePatternError("backreferences (\\1 …) are not allowed")
        self._atom(None, 2)

    def _char_class(self) -> None:
        end = self.pos + 1
        if self.pattern[end : end + 1] == "^":
            end += 1
        if self.pattern[end : end + 1] == "]":
            end += 1
        while end < len(self.pattern) and self.pattern[end] != "]":
            end += 2 if self.pattern[end] == "\\" else 1
        if end >= len(self.pattern):
            raise UnsafePatternError("unterminated character set '['")
        self._atom(None, end + 1 - self.pos)

    def _open_group(self) -> None:
        head = self.pattern[self.pos : self.pos + 4]
        if head.startswith("(?P=") or head.startswith("(?("):
            raise UnsafePatternError("backreferences and conditional groups are not allowed")
        self.stack.append(_Group(start=self.pos))
        self.last_atom = None
        self.pos += 1

    def _close_group(self) -> None:
        if len(self.stack) == 1:
            raise UnsafePatternError(f"unbalanced parenthesis at position {self.pos}")
        group = self.stack.pop()
        parent = self.stack[-1]
        parent.repeats |= group.repeats
        parent.alternates |= group.alternates
        self._atom(group, 1)

    def _quantifier(self, char: str) -> None:
        width, unbounded_or_many = self._read_quantifier(char)
        if width == 0:  # a lone "{" is a literal
            self._atom(None, 1)
            return
        group = self.last_atom
        if unbounded_or_many and group is not None and (group.repeats or group.alternates):
            inner = self.pattern[group.start : self.pos]
            raise UnsafePatternError(
                f"nested quantifier: the repeated group {inner!r} contains a repetition or an "
                "alternation, which can backtrack catastrophically; repeat a character class "
                "instead"
            )
        if unbounded_or_many:
            self.stack[-1].repeats = True
        self.pos += width
        if self.pattern[self.pos : self.pos + 1] in ("?", "+"):
            self.pos += 1  # lazy or possessive modifier
        self.last_atom = None

    def _read_quantifier(self, char: str) -> tuple[int, bool]:
        if char != "{":
            return 1, char in "*+"
        match = _QUANTIFIER.match(self.pattern, self.pos)
        if match is None or (not match.group(1) and not match.group(3)):
            return 0, False
        low, comma, high = match.groups()
        many = comma is not None and (not high or int(high) > 1)
        return match.end() - self.pos, many or int(low or "0") > 1
