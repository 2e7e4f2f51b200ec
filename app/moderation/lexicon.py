"""Banned-word lexicon: Aho-Corasick over normalised terms, with categories and innocent compounds.

Built when rules load or words are imported (`qunyun moderation import-words`); searched once per
message over its compact form, so 10,000 terms cost about as much as ten. Nothing is stored here.

A term is either a *banned word* (`tag` None: a violation on its own) or a *cue* (`tag` set: only
counts together with other signals, e.g. 代购 next to a WeChat id; see combination rules).
Innocent compounds suppress a hit inside them: 垃圾袋 hides 垃圾, 废物利用 hides 废物. A term
that starts or ends with a Latin letter or digit must not touch another one in the message, so
`sb` does not fire inside `this bus` (CJK terms need no boundary: Chinese has no spaces).

pyahocorasick looks up a node's children one by one, and a Chinese lexicon gives the root
thousands of children (25 µs a message at 10,000 terms). So the automaton runs over the UTF-16
bytes of the text, one symbol per byte, where no node has more than 256 children (about 1 µs);
a match must end on a character boundary and is checked against the text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

from app.moderation.normalize import Normalized, compact
from app.moderation.verdict import CATEGORY_PRECEDENCE, Category, is_category


@dataclass(frozen=True, slots=True)
class LexiconTerm:
    """A term as written by a moderator; `tag` None means a banned word, else a cue."""

    term: str
    category: Category
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class LexiconMatch:
    """A term found in a message; `start`/`end` index the compact form."""

    term: LexiconTerm
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Entry:
    term: LexiconTerm
    key: str
    latin_start: bool
    latin_end: bool


def _encode(text: str) -> str:
    """UTF-16 code units as pairs of Latin-1 characters (two C calls, no Python loop)."""
    return text.encode("utf-16-be").decode("latin-1")


def _char_index(text: str) -> list[int]:
    """For text with characters outside the BMP: encoded offset → character index."""
    index: list[int] = []
    for position, char in enumerate(text):
        index += [position] * (4 if ord(char) > 0xFFFF else 2)
    index.append(len(text))
    return index


def _is_latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def make_term(term: str, category: str, tag: str | None = None) -> LexiconTerm:
    """A validated term; raises ValueError naming the problem."""
    if not is_category(category):
        allowed = ", ".join(CATEGORY_PRECEDENCE)
        raise ValueError(f"unknown category {category!r} for {term!r} (expected one of {allowed})")
    if not compact(term):
        raise ValueError(f"term {term!r} has no letters or digits")
    return LexiconTerm(term=term, category=category, tag=tag)


def parse_word_list(text: str, category: str) -> list[LexiconTerm]:
    """Terms from an import file: one a line; blank lines and lines starting with # skipped."""
    terms: list[LexiconTerm] = []
    for number, line in enumerate(text.splitlines(), start=1):
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        try:
            terms.append(make_term(word, category))
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
    return terms


class Lexicon:
    """An immutable set of terms searchable in one pass; build with `from_terms`."""

    def __init__(self, entries: list[_Entry], innocent: Iterable[str]) -> None:
        self._entries = entries
        self._automaton: ahocorasick.Automaton | None = None
        if entries:
            self._automaton = ahocorasick.Automaton()
            for index, entry in enumerate(entries):
                self._automaton.add_word(_encode(entry.key), index)
            self._automaton.make_automaton()
        self._innocent = self._index_innocent(innocent)

    @classmethod
    def from_terms(
        cls, terms: Iterable[LexiconTerm | tuple[str, str]], *, innocent: Iterable[str] = ()
    ) -> Lexicon:
        """Build a lexicon. A term listed twice (after normalisation) keeps its first listing."""
        entries: dict[str, _Entry] = {}
        for item in terms:
            term = item if isinstance(item, LexiconTerm) else make_term(*item)
            key = compact(term.term)
            if key and key not in entries:
                entries[key] = _Entry(term, key, _is_latin(key[0]), _is_latin(key[-1]))
        return cls(list(entries.values()), innocent)

    def __len__(self) -> int:
        return len(self._entries)

    def terms(self) -> list[LexiconTerm]:
        """Every term, in listing order."""
        return [entry.term for entry in self._entries]

    def find(self, norm: Normalized) -> list[LexiconMatch]:
        """Every term in the message, minus those inside an innocent compound."""
        if self._automaton is None:
            return []
        text = norm.compact
        encoded = _encode(text)
        chars = None if len(encoded) == 2 * len(text) else _char_index(text)
        matches: list[LexiconMatch] = []
        for last, index in self._automaton.iter(encoded):
            if last % 2 == 0:
                continue  # ends in the middle of a character
            entry = self._entries[index]
            end = (last + 1) // 2 if chars is None else chars[last + 1]
            start = end - len(entry.key)
            if text[start:end] != entry.key or self._in_innocent(text, index, start):
                continue
            if (entry.latin_start or entry.latin_end) and not _latin_bounded(
                norm, start, end, entry
            ):
                continue
            matches.append(LexiconMatch(entry.term, start, end))
        return matches

    def _index_innocent(self, compounds: Iterable[str]) -> dict[int, list[tuple[str, int]]]:
        """For each entry index, the innocent compounds containing it and the term's offset."""
        index: dict[int, list[tuple[str, int]]] = {}
        if self._automaton is None:
            return index
        for compound in compounds:
            key = compact(compound)
            chars = _char_index(key)
            for last, entry_index in self._automaton.iter(_encode(key)):
                entry = self._entries[entry_index]
                end = chars[last + 1] if last % 2 else -1
                if end >= 0 and key[end - len(entry.key) : end] == entry.key:
                    index.setdefault(entry_index, []).append((key, end - len(entry.key)))
        return index

    def _in_innocent(self, text: str, entry_index: int, start: int) -> bool:
        for compound, offset in self._innocent.get(entry_index, ()):
            begin = start - offset
            if begin >= 0 and text.startswith(compound, begin):
                return True
        return False


def _latin_bounded(norm: Normalized, start: int, end: int, entry: _Entry) -> bool:
    """False when a Latin/digit edge of the term touches another letter or digit in `text`."""
    text = norm.text
    if entry.latin_start:
        before = norm.text_index(start) - 1
        if before >= 0 and _is_latin(text[before]):
            return False
    if entry.latin_end:
        after = norm.text_index(end - 1) + 1
        if after < len(text) and _is_latin(text[after]):
            return False
    return True
