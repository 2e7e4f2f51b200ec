"""Turn texts into the terms and character n-grams the FAQ index compares.

Runs on every knowledge-base question when an index is built and on every member message before
it is matched. The jieba dictionary is loaded once per process (about a second) and shared
read-only: it answers which strings are words and how common they are. Segmenting is done by
rjieba, jieba's algorithm and dictionary in Rust (jieba-rs): measured 2.4 µs a message instead
of 46 µs, with the same words for 3,884 of 3,886 FAQ, moderation and chat texts (the other two
differ where two splits score within rounding of each other). Each index gets its own segmenter
holding the KB's domain words, so nothing shared is touched and an index, once built, never
changes.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import jieba
import rjieba

from app.faq.text import TextRules, has_cjk

_LOG = logging.getLogger(__name__)
_SPACE = re.compile(r"\s+")
_KEEP_TOKEN = re.compile(r"[\u3400-\u9fffa-z0-9]")
_HANZI = re.compile(r"[\u3400-\u9fff]+")
# Frequency given to a domain word so jieba keeps it whole (a typical two-character word has a
# few thousand; 20,000 outweighs any split into commoner parts).
_DOMAIN_WORD_FREQ = 20_000
_BASE_LOCK = threading.Lock()


@cache
def base_tokenizer() -> jieba.Tokenizer:
    """jieba's default dictionary, loaded once per process and never modified."""
    with _BASE_LOCK:
        logging.getLogger("jieba").setLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        return tokenizer


def warm_up() -> None:
    """Load jieba's dictionary and the pinyin table now rather than on the first message."""
    base_tokenizer()
    _function_words()
    _pinyin_table()


class Segmenter:
    """Words of a text: jieba's default dictionary (no HMM guessing) plus some domain words."""

    def __init__(self, domain_words: Iterable[str]) -> None:
        base = base_tokenizer()
        self._cutter = rjieba.Jieba()  # its own copy of the default dictionary (~80 ms)
        self._domain: set[str] = set()
        for word in sorted(set(domain_words)):
            if len(word) > 1 and base.FREQ.get(word, 0) < _DOMAIN_WORD_FREQ:
                self._cutter.add_word(word, _DOMAIN_WORD_FREQ, None)
                self._domain.add(word)
        self._frequencies = base.FREQ

    def cut(self, text: str) -> list[str]:
        return self._cutter.cut(text, False)

    def is_word(self, text: str) -> bool:
        """In the dictionary or a domain word (jieba keeps word prefixes at frequency 0)."""
        return text in self._domain or bool(self._frequencies.get(text))


# jieba's part-of-speech tags for words that carry little meaning of their own: adverbs,
# pronouns, prepositions, conjunctions, particles, interjections, numerals, measure words and
# locatives (一共, 哪里, 比较, 之后 …).
_FUNCTION_TAGS = frozenset(
    [
        "d",
        "df",
        "dg",
        "ad",
        "r",
        "rr",
        "rz",
        "rg",
        "p",
        "c",
        "u",
        "uj",
        "ul",
        "uz",
        "ud",
        "ug",
        "uv",
        "y",
        "e",
        "o",
        "m",
        "mq",
        "mg",
        "q",
        "f",
        "k",
        "h",
    ]
)


@cache
def _function_words() -> frozenset[str]:
    """Words jieba's own dictionary tags as function words (read once per process)."""
    words: set[str] = set()
    with jieba.get_dict_file() as handle:
        for raw in handle:
            parts = raw.decode("utf-8").split()
            if len(parts) == 3 and parts[2] in _FUNCTION_TAGS:
                words.add(parts[0])
    return frozenset(words)


@cache
def common_words() -> tuple[str, ...]:
    """Everyday two-character nouns and verbs from jieba's dictionary (for calibration probes)."""
    words: list[str] = []
    with jieba.get_dict_file() as handle:
        for raw in handle:
            parts = raw.decode("utf-8").split()
            everyday = len(parts) == 3 and parts[2] in {"n", "v", "vn"} and len(parts[0]) == 2
            if everyday and 300 <= int(parts[1]) <= 30_000 and has_cjk(parts[0]):
                words.append(parts[0])
    return tuple(words)


@cache
def general_weight(word: str) -> float:
    """How informative a word is in general Chinese, 0.2–1.

    Function words by jieba's part-of-speech tags (一共, 哪里, 之后) get 0.2, numbers and Latin
    0.5; other words are scaled by their rarity in jieba's corpus (情况 low, 蓝色 high). Used so
    that words a knowledge base has never seen do not all look like rare content words.
    """
    if not has_cjk(word):
        return 0.5
    if word in _function_words():
        return 0.2
    base = base_tokenizer()
    informativeness = math.log(base.total / (base.FREQ.get(word, 0) + 1))
    return min(1.0, max(0.35, (informativeness - 5.0) / 6.0))


class Synonyms:
    """Rewrites every word of a synonym group as the group's first word."""

    def __init__(self, groups: Sequence[Sequence[str]]) -> None:
        self._canonical: dict[str, str] = {}
        for group in groups:
            head = group[0].casefold()
            for word in group:
                self._canonical.setdefault(word.casefold(), head)
        ordered = sorted(self._canonical, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @property
    def words(self) -> frozenset[str]:
        """Every word named in a group (heads included)."""
        return frozenset(self._canonical)

    def canonical(self, token: str) -> str:
        """The group head of a token, or the token itself."""
        return self._canonical.get(token, token)

    def apply(self, text: str) -> str:
        """Replace each synonym by its group head, longest match first."""
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda match: self._canonical[match.group(0)], text)


@cache
def _pinyin_table() -> Mapping[int, str]:
    from pypinyin.pinyin_dict import pinyin_dict

    return pinyin_dict


@cache
def char_sound(char: str) -> str:
    """A character's first reading without tone (积 → ji); the character itself if unknown."""
    readings = _pinyin_table().get(ord(char))
    if not readings:
        return char
    first = readings.split(",")[0]
    return "".join(c for c in unicodedata.normalize("NFKD", first) if c.isascii())


@lru_cache(maxsize=65_536)
def sound_key(word: str) -> str:
    """The toneless pinyin of a word, used to find homophone typos (积份 → 积分)."""
    return " ".join(char_sound(char) for char in word)


class TypoCorrector:
    """Maps unknown words to a KB word that sounds the same (the usual Chinese typo)."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self._known = frozenset(vocabulary)
        by_sound: dict[str, str] = {}
        for word in sorted(self._known, key=lambda w: (-len(w), w)):
            if len(word) > 1 and has_cjk(word):
                by_sound.setdefault(sound_key(word), word)
        self._by_sound = by_sound

    def correct(self, tokens: Sequence[str]) -> list[str]:
        """Replace unknown tokens (or unknown pairs of single characters) by homophone KB words."""
        result: list[str] = []
        index = 0
        while index < len(tokens):
            token = tokens[index]
            pair = token + tokens[index + 1] if index + 1 < len(tokens) else ""
            if len(pair) == 2 and _is_hanzi(pair) and pair not in self._known:
                fixed = self._by_sound.get(sound_key(pair))
                if fixed is not None:
                    result.append(fixed)
                    index += 2
                    continue
            if len(token) > 1 and _is_hanzi(token) and token not in self._known:
                token = self._by_sound.get(sound_key(token), token)
            result.append(token)
            index += 1
        return result


def _is_hanzi(word: str) -> bool:
    return _HANZI.fullmatch(word) is not None


@dataclass(frozen=True, slots=True)
class Analysis:
    """A text as the index sees it: the prepared string, its terms and its character n-grams."""

    text: str
    tokens: tuple[str, ...]
    terms: tuple[str, ...]
    grams: tuple[str, ...]


class Analyzer:
    """Normalise, apply synonyms, segment with the KB's dictionary, drop stop words, n-grams."""

    def __init__(
        self,
        rules: TextRules,
        synonyms: Synonyms,
        segmenter: Segmenter,
        stop_words: frozenset[str],
    ) -> None:
        self._rules = rules
        self._synonyms = synonyms
        self._segmenter = segmenter
        self._stop_words = stop_words
        self._typos: TypoCorrector | None = None

    def with_typo_correction(self, vocabulary: Iterable[str]) -> Analyzer:
        """A copy that corrects homophone typos in queries towards the given vocabulary."""
        analyzer = Analyzer(self._rules, self._synonyms, self._segmenter, self._stop_words)
        analyzer._typos = TypoCorrector(vocabulary)
        return analyzer

    def prepare(self, text: str) -> str:
        """Cleaned text with synonyms replaced by string matching (for unsegmented answers)."""
        return self._synonyms.apply(self._rules.clean(text))

    def analyze(self, text: str) -> Analysis:
        """Clean, segment, map synonyms, fix typos; then terms and character n-grams."""
        tokens = [
            self._synonyms.canonical(token)
            for token in self._segmenter.cut(self._rules.clean(text))
        ]
        if self._typos is not None:
            tokens = self._typos.correct(tokens)
        terms = tuple(
            term
            for term in self._expand(tokens)
            if term not in self._stop_words and _KEEP_TOKEN.search(term)
        )
        prepared = "".join(tokens)
        return Analysis(
            text=prepared,
            tokens=tuple(t for t in tokens if t.strip()),
            terms=terms,
            grams=tuple(char_grams(prepared)),
        )

    def _expand(self, tokens: Sequence[str]) -> Iterable[str]:
        """Each token, preceded by the dictionary words inside it (配送范围 → 配送, 范围)."""
        is_word = self._segmenter.is_word
        for token in tokens:
            for size in (2, 3):
                if len(token) > size:
                    for i in range(len(token) - size + 1):
                        part = token[i : i + size]
                        if is_word(part):
                            yield self._synonyms.canonical(part)
            yield token

    def answer_text(self, text: str) -> str:
        """The prepared form of an answer, searched by substring (answers are not segmented)."""
        return _SPACE.sub("", self.prepare(text))


def char_grams(prepared: str) -> list[str]:
    """Character unigrams and bigrams of each space-separated part."""
    grams: list[str] = []
    for part in prepared.split():
        grams.extend(part)
        grams.extend(part[i : i + 2] for i in range(len(part) - 1))
    return grams
