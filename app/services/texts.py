"""Member-facing texts, loaded from config/texts.toml (zh-CN) once per process."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class HelpText:
    title: str
    lines: tuple[str, ...]
    footer: str

    def render(self) -> str:
        return "\n".join((self.title, *self.lines, self.footer)).strip()


@dataclass(frozen=True, slots=True)
class Texts:
    help: HelpText

    @classmethod
    def load(cls, path: Path) -> Texts:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        help_section = data.get("help", {})
        return cls(
            help=HelpText(
                title=str(help_section.get("title", "")),
                lines=tuple(str(line) for line in help_section.get("lines", ())),
                footer=str(help_section.get("footer", "")),
            )
        )


def placeholders(template: str) -> set[str]:
    """The {names} a template fills in."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def check_templates(templates: Mapping[str, str], fields: Mapping[str, frozenset[str]]) -> None:
    """Every known text present, no unknown text, each using only its own placeholders.

    Raises ValueError naming the text, so a bad config file is refused with a clear reason.
    """
    missing = sorted(set(fields) - set(templates))
    if missing:
        raise ValueError(f"[texts] is missing {', '.join(missing)}")
    for key, template in templates.items():
        allowed = fields.get(key)
        if allowed is None:
            raise ValueError(f"[texts] has an unknown text {key!r}")
        unknown = placeholders(template) - allowed
        if unknown:
            raise ValueError(f"[texts] {key} uses unknown placeholders {sorted(unknown)}")
