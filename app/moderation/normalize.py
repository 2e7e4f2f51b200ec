"""Text normalisation for moderation: one canonical form to match on, and a way back.

Runs on every message before any content rule, and on every lexicon term when a lexicon is built,
so both sides meet in the same form. Nothing is changed or stored: the original text is kept for
the audit trail, and a span found in the normalised text maps back to a span of the original.

The steps, in order:

1. per character: Unicode NFKC (full width → half width, ① → 1), case folding, traditional →
   simplified (OpenCC's t2s, character by character so offsets survive), Cyrillic/Greek letters
   that look Latin → Latin; zero-width, bidi controls and combining marks dropped; spaces → " ";
2. separators between two CJK characters removed — spaces, emoji, symbols and WeChat emoji codes
   such as ``[玫瑰]``: ``加 微 信`` / ``微🌸信`` → ``加微信`` / ``微信``;
3. contact-word variants and homophones → one spelling: 威信/薇信/卫星/V信/vx/wx → 微信,
   扣扣 → qq, ``+`` before a contact word → 加, ``点com`` → ``.com``;
4. runs of at least five Chinese or 大写 numerals (separators allowed) → digits: 一三九 → 139;
5. ``compact``: the result with everything but letters and digits removed, for the lexicon and the
   number rules (``1 3 8-1234`` → ``1381234``).

Steps 1–4 give ``text`` (readable, punctuation kept: links and ids keep their shape).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache
from typing import Literal, TypeAlias

from opencc import OpenCC

Space: TypeAlias = Literal["original", "text", "compact"]
# For each character of a normalised string: where its source starts and ends in the original.
_Spans: TypeAlias = tuple[list[int], list[int]]
_Repl: TypeAlias = Callable[[re.Match[str]], str]

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Kept between CJK characters: they end a clause, so removing them could join two clauses.
_CLAUSE_PUNCT = "，。！？、；：,.!?;:…"
_COLLAPSE = re.compile(
    rf"(?<=[{_CJK}])(?:\[[{_CJK}]{{1,4}}\]|[^\w\[\]{_CLAUSE_PUNCT}]|_)+(?=[{_CJK}])"
)
_NON_ALNUM = re.compile(r"[\W_]+")

_NOT_AFTER_ALNUM = r"(?<![a-z0-9].)"  # placed after the first character of a Latin variant
_LATIN_END = r"(?![a-z])"
_GAP = r"[\W_]{0,2}"
_TLDS = "com|cn|net|org|top|xyz|cc|vip|me|io|co|info|shop|club|site|online|ltd|link|app"
_DOT_WORD = r"(?:点|dot|\(dot\)|\[dot\]|\(\.\)|\[\.\]|。|·|•)"
_BEFORE_TLD = rf"\s?(?=(?:{_TLDS})(?![a-z0-9]))"
# (first characters, rest of the pattern, replacement). Every alternative starts with a literal
# character so the regex engine can skip to candidate positions instead of trying them all.
_VARIANTS: tuple[tuple[str, str, str], ...] = (
    ("+➕", r"\s*(?=v|w|微|威|薇|徽|q|扣|蔻|企鹅)", "加"),
    ("v", rf"{_NOT_AFTER_ALNUM}{_GAP}x{_LATIN_END}", "微信"),
    ("w", rf"{_NOT_AFTER_ALNUM}(?:x|echat|eixin){_LATIN_END}", "微信"),
    ("vw", rf"{_NOT_AFTER_ALNUM}(?:ei)?{_GAP}(?:信|芯|❤|♥|xin{_LATIN_END})", "微信"),
    ("威薇徽维卫魏危唯伟溦嶶", "[信芯❤♥]", "微信"),
    ("卫", "星", "微信"),
    ("微", rf"(?:[芯伈❤♥]|x{_LATIN_END})", "微信"),
    ("扣蔻叩抠寇", "[扣蔻叩抠寇]", "qq"),
    ("企", "鹅号", "qq号"),
    ("q", rf"{_NOT_AFTER_ALNUM}[\W_]{{1,2}}q{_LATIN_END}", "qq"),
    ("点。·•", rf"(?:(?<=[a-z0-9].)|(?<=[a-z0-9]\s.)){_BEFORE_TLD}", "."),
    ("d", rf"(?:(?<=[a-z0-9].)|(?<=[a-z0-9]\s.))ot{_BEFORE_TLD}", "."),
    ("(", rf"(?:(?<=[a-z0-9].)|(?<=[a-z0-9]\s.))(?:dot|\.)\){_BEFORE_TLD}", "."),
    ("[", rf"(?:(?<=[a-z0-9].)|(?<=[a-z0-9]\s.))(?:dot|\.)\]{_BEFORE_TLD}", "."),
    (" ", rf"(?<=[a-z0-9].)(?={_DOT_WORD}{_BEFORE_TLD})", ""),
)
_VARIANT_NAMES: dict[str, str] = {}
_alternatives: list[str] = []
for _i, (_firsts, _rest, _replacement) in enumerate(_VARIANTS):
    for _j, _first in enumerate(_firsts):
        _VARIANT_NAMES[f"v{_i}_{_j}"] = _replacement
        _alternatives.append(f"{re.escape(_first)}(?P<v{_i}_{_j}>{_rest})")
_VARIANT_RE = re.compile("|".join(_alternatives))
_VARIANT_HINT = re.compile("[" + re.escape("".join(f for f, _, _ in _VARIANTS)) + "]")

_NUMERAL_DIGITS = {"零": "0", "〇": "0", "幺": "1", "参": "3"}
for _digits in ("一二三四五六七八九", "壹贰叁肆伍陆柒捌玖"):
    _NUMERAL_DIGITS |= {ch: str(i) for i, ch in enumerate(_digits, start=1)}
_NUM_CHARS = "0-9" + "".join(_NUMERAL_DIGITS)
_NUM_RUN = re.compile(rf"[{_NUM_CHARS}][{_NUM_CHARS}\s\-.·]{{3,}}[{_NUM_CHARS}]")
_MIN_NUMERAL_RUN = 5

# Letters of other scripts that spammers put in Latin words (UTS #39 confusables, the common few).
_CONFUSABLES = dict(zip("асеорхуіјѕԁһӏкмтвαεορτυνικ", "aceopxyijsdhlkmtbaeoptuvik", strict=True))
_DROPPED_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Cs", "Co"})
_SPACE_CONTROLS = frozenset("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85")


@cache
def _opencc() -> OpenCC:
    return OpenCC("t2s")


def _to_simplified(char: str) -> str:
    if ord(char) < 0x2E80:
        return char
    converted: str = _opencc().convert(char)
    # one BMP character or nothing: a few rare characters map outside the BMP, which helps no one
    return converted if len(converted) == 1 and ord(converted) <= 0xFFFF else char


def _fold_char(char: str) -> str:
    """Steps 1 for one character; the result may be empty or longer than one character."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFKC", char).casefold():
        ch = _CONFUSABLES.get(ch, ch)
        category = unicodedata.category(ch)
        if category in _DROPPED_CATEGORIES:
            continue
        if category == "Cc":
            out.append(" " if ch in _SPACE_CONTROLS else "")
        elif category.startswith("Z"):
            out.append(" ")
        else:
            out.append(_to_simplified(ch))
    return "".join(out)


class _FoldTable(dict[int, str]):
    """`str.translate` table filled on first sight of each character."""

    def __init__(self) -> None:
        super().__init__()
        self.not_one_to_one: set[int] = set()  # code points folded to 0 or 2+ characters

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        if len(folded) != 1:  # recorded before the entry appears, for readers in other threads
            self.not_one_to_one.add(code)
        self[code] = folded
        return folded


_FOLD = _FoldTable()


def _variant(match: re.Match[str]) -> str:
    return _VARIANT_NAMES[match.lastgroup or ""]


def _numerals(match: re.Match[str]) -> str:
    run = match.group()
    count = sum(1 for ch in run if ch in _NUMERAL_DIGITS or ch.isdigit())
    if count < _MIN_NUMERAL_RUN or not any(ch in _NUMERAL_DIGITS for ch in run):
        return run
    return "".join(_NUMERAL_DIGITS.get(ch, ch) for ch in run)


def _drop(_: re.Match[str]) -> str:
    return ""


_SEPARATOR_HINT = re.compile(rf"[^\w{_CLAUSE_PUNCT}]")


def _may_collapse(text: str) -> bool:
    return _SEPARATOR_HINT.search(text) is not None or "_" in text  # "_" is \w, yet a separator


def _may_have_variant(text: str) -> bool:
    return _VARIANT_HINT.search(text) is not None


def _always(_: str) -> bool:
    return True


# (may_match, pattern, replacement): `may_match` is False only when `pattern` cannot match, so
# the cheap test skips the step for most messages.
_STEPS: tuple[tuple[Callable[[str], bool], re.Pattern[str], _Repl], ...] = (
    (_may_collapse, _COLLAPSE, _drop),
    (_may_have_variant, _VARIANT_RE, _variant),
    (_always, _NUM_RUN, _numerals),
)


def fold(text: str) -> str:
    """Steps 1–4: the readable normalised form (`_STEPS` unrolled: this runs per message)."""
    out = text.translate(_FOLD)
    if _may_collapse(out):
        out = _COLLAPSE.sub("", out)
    if _VARIANT_HINT.search(out) is not None:
        out = _VARIANT_RE.sub(_variant, out)
    return _NUM_RUN.sub(_numerals, out)


def _fold_mapped(text: str) -> tuple[str, _Spans]:
    """`fold` plus, for each output character, the span of the original it came from."""
    out = text.translate(_FOLD)  # also fills the table, so the check below is complete
    if _FOLD.not_one_to_one.isdisjoint(map(ord, text)):  # usual: one character in, one out
        spans = (list(range(len(text))), list(range(1, len(text) + 1)))
    else:
        sizes = [len(_FOLD[ord(char)]) for char in text]
        starts = [i for i, size in enumerate(sizes) for _ in range(size)]
        spans = (starts, [start + 1 for start in starts])
    for may_match, pattern, repl in _STEPS:
        if may_match(out):
            out, spans = _sub_mapped(pattern, repl, out, spans)
    return out, spans


def _sub_mapped(
    pattern: re.Pattern[str], repl: _Repl, text: str, spans: _Spans
) -> tuple[str, _Spans]:
    starts, ends = spans
    pieces: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    last = 0
    for match in pattern.finditer(text):
        start, end = match.span()
        replacement = repl(match)
        pieces += (text[last:start], replacement)
        if len(replacement) == end - start:  # character for character: keep each source
            new_starts += starts[last:end]
            new_ends += ends[last:end]
        else:  # every new character comes from the whole replaced stretch
            new_starts += starts[last:start] + [starts[start]] * len(replacement)
            new_ends += ends[last:start] + [ends[end - 1]] * len(replacement)
        last = end
    pieces.append(text[last:])
    new_starts += starts[last:]
    new_ends += ends[last:]
    return "".join(pieces), (new_starts, new_ends)


class Normalized:
    """A message in its normalised forms; `span` maps a match back to the original.

    Treat as immutable; the two offset maps are filled on first use (a plain class rather than
    a dataclass: it is built for every message, and this is the cheapest shape).
    """

    __slots__ = ("_compact_map", "_text_map", "compact", "original", "text")

    def __init__(self, original: str, text: str, compact: str) -> None:
        self.original = original
        self.text = text
        self.compact = compact
        self._compact_map: list[int] | None = None
        self._text_map: _Spans | None = None

    def __repr__(self) -> str:
        return f"Normalized(original={self.original!r}, text={self.text!r})"

    def span(self, space: Space, start: int, end: int) -> tuple[int, int]:
        """The (start, end) in the original of `[start, end)` in `space`; end exclusive."""
        if space == "original" or end <= start:
            return start, end
        if space == "compact":
            positions = self._compact_positions()
            start, end = positions[start], positions[end - 1] + 1
        starts, ends = self._text_spans()
        return starts[start], ends[end - 1]

    def text_index(self, compact_index: int) -> int:
        """The position in `text` of the character at `compact_index` in `compact`."""
        return self._compact_positions()[compact_index]

    def _compact_positions(self) -> list[int]:
        if self._compact_map is None:
            # isalnum() is exactly what `compact` keeps (\w without "_")
            self._compact_map = [i for i, ch in enumerate(self.text) if ch.isalnum()]
        return self._compact_map

    def _text_spans(self) -> _Spans:
        if self._text_map is None:
            text, spans = _fold_mapped(self.original)
            if text != self.text:  # both paths run the same steps; this guards refactors
                raise AssertionError("mapped and fast normalisation disagree")
            self._text_map = spans
        return self._text_map


def normalize(text: str) -> Normalized:
    """Normalise a message; cheap when nothing needs mapping back (maps are built on demand)."""
    folded = fold(text)
    return Normalized(text, folded, _NON_ALNUM.sub("", folded))


def compact(text: str) -> str:
    """The compact form of `text` (what lexicon terms are stored as)."""
    return _NON_ALNUM.sub("", fold(text))
