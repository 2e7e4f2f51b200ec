"""Dry run over JSONL for `qunyun moderation check --jsonl PATH`: judge, never act.

For each input line {"text": …} yields one output line
{"text": …, "violation": bool, "category": "ad|spam|abuse|scam|other" | null, "rules": [...]}
(SPEC.md). Only the stateless content check runs: no history, no ladder, nothing stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from app.messages import Kind
from app.moderation.engine import ContentChecker


class JsonlInputError(ValueError):
    """A bad input line; the message starts with its line number."""


def check_jsonl(checker: ContentChecker, lines: Iterable[str]) -> Iterator[str]:
    """One JSON line out per non-blank JSON line in; raises `JsonlInputError` on bad input."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        text, kind, url = _parse(number, raw)
        verdict = checker.check(text, kind, url=url)
        yield json.dumps(
            {
                "text": text,
                "violation": verdict.violation,
                "category": verdict.category,
                "rules": list(verdict.rules),
            },
            ensure_ascii=False,
        )


def _parse(number: int, raw: str) -> tuple[str, Kind, str | None]:
    try:
        item = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise JsonlInputError(f"line {number}: not JSON ({exc.msg})") from None
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise JsonlInputError(f"line {number}: expected an object with a string 'text'")
    try:
        kind = Kind(item.get("type", Kind.TEXT.value))
    except ValueError:
        raise JsonlInputError(f"line {number}: unknown type {item.get('type')!r}") from None
    url = item.get("url")
    if url is not None and not isinstance(url, str):
        raise JsonlInputError(f"line {number}: 'url' must be a string")
    return item["text"], kind, url
