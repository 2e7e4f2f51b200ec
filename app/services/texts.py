"""Member-facing texts, loaded from config/texts.toml (zh-CN) once per process."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, model_validator


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


class TemplateTexts(BaseModel):
    """Member-facing templates of one config file; `render(key, **values)` fills the
    placeholders. Subclasses name each text's allowed placeholders in `fields`."""

    model_config = ConfigDict(frozen=True)
    fields: ClassVar[Mapping[str, frozenset[str]]] = {}

    templates: dict[str, str]

    @model_validator(mode="after")
    def _known_placeholders(self) -> Self:
        check_templates(self.templates, self.fields)
        return self

    def render(self, key: str, **values: object) -> str:
        return self.templates[key].format(**values)
