"""Member-facing texts, loaded from config/texts.toml (zh-CN) once per process."""

from __future__ import annotations

import tomllib
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
