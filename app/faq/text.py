"""Text normalisation for FAQ matching, small-talk and question detection.

Runs on every knowledge-base text when an index is built and on every member message before it is
matched. Pure functions over strings: nothing is stored or changed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import opencc

from app.faq.config import FaqConfig, TextConfig, load_faq_config

_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]")
_WECHAT_EMOJI = re.compile(r"\[[^\[\]\s]{1,8}\]")
_SPACES = re.compile(r"\s+")
_REPEATS = re.compile(r"(.+?)\1+")
_SEPARATORS = re.compile(
    r"[\s,.;:!?。，、；：！？·…\-—~～\"'“”‘’()（）<>《》「」『』【】\[\]/\\|*#&%^_=+]+"
)
_CJK = re.compile(r"[\u3400-\u9fff]")
# "A-not-A" questions: 好不好, 在不在, 有没有, 招不招, 喜不喜欢.
_A_NOT_A = re.compile(r"([\u3400-\u9fff])[不没]\1")
_WORD_CHARS = re.compile(r"[\u3400-\u9fffa-z0-9]")
_NUMERAL_UNITS = (
    "个|点|天|号|次|件|张|束|枝|支|朵|元|块|公里|小时|分钟|周|月|年|岁|折|家|位|人|倍|斤|克"
)
_NUMERALS = re.compile(
    rf"(?<![零一二两三四五六七八九十百])([一二两三四五六七八九十]+)(?={_NUMERAL_UNITS})"
)
_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
# Unicode categories removed as decoration: emoji and other symbols, private use, unassigned.
_SYMBOL_CATEGORIES = frozenset({"So", "Sk", "Co", "Cn", "Cs"})
_UNCOMMON = re.compile("[^\u0000-\u007f\u2010-\u2027\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@cache
def _traditional_chars() -> frozenset[str]:
    # Converting costs ~20 µs a line and most lines hold no traditional character, so the
    # converter runs only when a line has a character from OpenCC's own t2s character table.
    table = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    chars: set[str] = set()
    for line in table.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("\t")
        if len(key) == 1 and key != value:
            chars.add(key)
    return frozenset(chars)


def to_simplified(text: str) -> str:
    """Convert traditional Chinese characters to simplified ones (unchanged if there are none)."""
    chars = _traditional_chars()
    if chars and chars.isdisjoint(text):
        return text
    return str(_t2s().convert(text))


def strip_decoration(text: str) -> str:
    """Drop emoji, pictographs and WeChat emoji codes such as `[玫瑰]`; keep letters and digits."""
    text = _WECHAT_EMOJI.sub(" ", text)
    if not _UNCOMMON.search(text):  # plain Chinese, Latin and punctuation: nothing to drop
        return text
    return "".join(
        " " if unicodedata.category(char) in _SYMBOL_CATEGORIES else char for char in text
    )


def chinese_numerals_to_digits(text: str) -> str:
    """Write small Chinese numbers before a measure word as digits: 十公里 → 10公里, 两点 → 2点."""
    return _NUMERALS.sub(lambda match: _numeral_value(match.group(1)), text)


def _numeral_value(numeral: str) -> str:
    if "十" not in numeral:
        if len(numeral) == 1:
            return str(_DIGITS[numeral])
        return "".join(str(_DIGITS[char]) for char in numeral)
    tens, _, units = numeral.partition("十")
    if len(tens) > 1 or len(units) > 1 or "十" in units:
        return numeral
    return str((_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[units] if units else 0))


def collapse_repeats(text: str) -> str:
    """Shorten runs of a repeated unit: 哈哈哈哈 → 哈, 好的好的 → 好的."""
    return _REPEATS.sub(r"\1", text)


def split_clauses(text: str) -> list[str]:
    """Split a normalised text on punctuation and spaces, dropping empty parts."""
    return [part for part in _SEPARATORS.split(text) if part]


def has_cjk(text: str) -> bool:
    """True if the text contains at least one CJK ideograph."""
    return _CJK.search(text) is not None


class TextRules:
    """Normalisation, small-talk and question detection driven by the `[text]` config."""

    def __init__(self, config: TextConfig) -> None:
        self._config = config
        self._fillers = _alternation((*config.fillers, *config.bot_names))
        self._mention = self._mention_pattern(config.bot_names)
        self._particles = frozenset(config.particles)
        self._small_talk = frozenset(
            self._strip_particles(collapse_repeats(word.casefold())) for word in config.small_talk
        )
        self._cues = _alternation(config.question_cues)
        self._endings = tuple(config.question_endings)
        self._last_normalized: tuple[str, str] = ("", "")

    @staticmethod
    def _mention_pattern(bot_names: tuple[str, ...]) -> re.Pattern[str]:
        names = "|".join(re.escape(name) for name in sorted(bot_names, key=len, reverse=True))
        named = rf"@(?:{names})|" if names else ""
        # A WeChat mention ends with U+2005, which NFKC turns into a plain space.
        return re.compile(rf"{named}@[^\s@]{{1,24}}(?:\s|$)")

    def normalize(self, text: str) -> str:
        """NFKC (full → half width), case fold, traditional → simplified, no emoji or mentions."""
        # Answering one message asks for its normal form three or four times in a row.
        last_text, last_normalized = self._last_normalized
        if text == last_text:
            return last_normalized
        normalized = self._normalize(text)
        self._last_normalized = (text, normalized)  # one assignment: safe across threads
        return normalized

    def _normalize(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text)
        text = _ZERO_WIDTH.sub("", text).casefold()
        text = strip_decoration(to_simplified(text))
        text = self._mention.sub(" ", text)
        return _SPACES.sub(" ", text).strip()

    def remove_fillers(self, text: str) -> str:
        """Remove configured filler words (请问, 姐妹们, …) wherever they occur."""
        if self._fillers is None:
            return text
        return self._fillers.sub(" ", text)

    def clean(self, text: str) -> str:
        """The matching form of a text: normalised, fillers removed, numerals as digits."""
        text = self.remove_fillers(self.normalize(text))
        text = chinese_numerals_to_digits(text)
        return " ".join(split_clauses(text))

    def is_small_talk(self, text: str) -> bool:
        """True for greetings, thanks, laughter, emoji-only and other chatter with no request."""
        normalized = self.normalize(text)
        if not _WORD_CHARS.search(normalized):
            return True
        clauses = split_clauses(self.remove_fillers(normalized))
        return all(self._is_small_talk_clause(clause) for clause in clauses)

    def _is_small_talk_clause(self, clause: str) -> bool:
        core = self._strip_particles(collapse_repeats(clause))
        return not core or core in self._small_talk or collapse_repeats(core) in self._small_talk

    def _strip_particles(self, text: str) -> str:
        start, end = 0, len(text)
        while start < end and text[start] in self._particles:
            start += 1
        while end > start and text[end - 1] in self._particles:
            end -= 1
        return text[start:end]

    def looks_like_question(self, text: str) -> bool:
        """True if the text asks something: a question mark, a final 吗/呢, or a question word."""
        normalized = self.normalize(text)
        if "?" in normalized or _has_a_not_a(normalized):
            return True
        if self._cues is not None and self._cues.search(normalized):
            return True
        return (
            any(
                self._strip_particles(clause).endswith(self._endings)
                for clause in split_clauses(normalized)
            )
            if self._endings
            else False
        )


def _has_a_not_a(text: str) -> bool:
    return any(match.group(1) not in "不没" for match in _A_NOT_A.finditer(text))


def _alternation(words: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted({word.casefold() for word in words if word}, key=len, reverse=True)
    if not ordered:
        return None
    return re.compile("|".join(re.escape(word) for word in ordered))


@cache
def default_rules() -> TextRules:
    """Text rules from the repository's `config/faq.toml`, read once per process."""
    return TextRules(load_faq_config().text)


def rules_for(config: FaqConfig | None) -> TextRules:
    """Text rules for a config, or the default ones when it is None."""
    return default_rules() if config is None else TextRules(config.text)


def is_small_talk(text: str, rules: TextRules | None = None) -> bool:
    """True if the message is chatter the bot must never answer (早上好, 哈哈哈, 谢谢群主)."""
    return (rules or default_rules()).is_small_talk(text)


def looks_like_question(text: str, rules: TextRules | None = None) -> bool:
    """True if the message reads as a question or a request for help."""
    return (rules or default_rules()).looks_like_question(text)


def normalize(text: str, rules: TextRules | None = None) -> str:
    """Normalise a message (width, case, script, emoji, mentions) for matching."""
    return (rules or default_rules()).normalize(text)
