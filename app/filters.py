"""Filters: small named predicates on a Context, declared at route registration."""

from __future__ import annotations

from functools import lru_cache

from app.messages import Kind
from app.pipeline import Context, Filter


def in_group(ctx: Context) -> bool:
    return ctx.message.is_group


def is_text(ctx: Context) -> bool:
    return ctx.message.kind is Kind.TEXT and bool(ctx.message.text.strip())


def is_membership_change(ctx: Context) -> bool:
    return ctx.message.kind in (Kind.MEMBER_JOIN, Kind.MEMBER_LEAVE)


def unanswered(ctx: Context) -> bool:
    return not ctx.answered


def command(*words: str, takes_args: bool = False) -> Filter:
    """Match a member command: the whole text is the word (or, with `takes_args`, the word
    followed by arguments). Leading @mentions and full-width spaces are ignored; no `\\b`,
    which does not work for Chinese."""

    def matches(ctx: Context) -> bool:
        text = strip_mentions(ctx.message.text)
        for word in words:
            if text == word:
                ctx.command_args = ""
                return True
            if takes_args and text.startswith(word):
                ctx.command_args = text[len(word) :].strip()
                return True
        return False

    return matches


# Every command filter of the pipeline asks about the same text in turn.
@lru_cache(maxsize=64)
def strip_mentions(text: str) -> str:
    """Drop leading `@name` tokens (WeChat separates them with a space or U+2005)."""
    text = text.replace("\u2005", " ").replace("\u3000", " ").strip()
    while text.startswith("@"):
        head, _, rest = text.partition(" ")
        if not rest:
            return "" if head.startswith("@") else text
        text = rest.strip()
    return text
