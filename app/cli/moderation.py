"""`qunyun moderation …`: import banned words, dry-run content checks, evaluate on labelled data.

`import-words PATH [--category C]` checks the whole file first (a bad line: one line-numbered
error, exit 2, nothing imported), then adds the new words in one transaction and moves the
rules version, so running bots rebuild their checker. `check --jsonl PATH` and `eval PATH` only
read: they judge content with the rules in force (config/moderation.toml, the scopes stored
through the admin API, imported words) and never act or store anything.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from app.cli.common import fail, load_settings, open_database
from app.clock import SystemClock
from app.db.session import transaction
from app.moderation.cache import RulesCache
from app.moderation.engine import ContentChecker
from app.moderation.evaluate import evaluate, format_report
from app.moderation.jsonl import JsonlInputError, check_jsonl
from app.moderation.lexicon import parse_word_list
from app.moderation.rules import RuleConfigError
from app.services.moderation_config import ModerationConfigService

app = typer.Typer(help="Group rules and moderation (群规).", no_args_is_help=True)
CATEGORIES = ("ad", "spam", "abuse", "scam", "other")

ChatOption = Annotated[
    str | None, typer.Option("--chat", help="Judge with this group's rules (its own chat id).")
]
PlatformOption = Annotated[str, typer.Option("--platform", help="The group's channel.")]


def _read(path: Path) -> str:
    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror or error}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{path}: not UTF-8")


def _checker(session: Session, platform: str, chat: str | None) -> ContentChecker:
    config = ModerationConfigService(session, RulesCache(), SystemClock())
    try:
        rules = config.scope_rules(platform, chat)
        return config.loaded().checker(rules)
    except RuleConfigError as error:
        fail(str(error))


@app.command("import-words")
def import_words(
    path: Annotated[Path, typer.Argument(help="Text file, one term a line ('-' = stdin).")],
    category: Annotated[
        str, typer.Option("--category", help="ad, spam, abuse, scam or other.")
    ] = "other",
) -> None:
    """Add banned words (all or nothing); known words are skipped."""
    if category not in CATEGORIES:
        fail(f"--category must be one of {', '.join(CATEGORIES)}, not {category!r}")
    try:
        terms = parse_word_list(_read(path), category)
    except ValueError as error:
        fail(f"{path.name}: {error}; nothing imported")
    if not terms:
        fail(f"{path.name}: no terms (one term a line; # starts a comment)")
    with open_database(load_settings(), migrate=True) as factory, transaction(factory) as session:
        config = ModerationConfigService(session, RulesCache(), SystemClock())
        try:
            result = config.import_terms(terms, source=path.name[:128])
        except ValueError as error:
            fail(f"{path.name}: {error}; nothing imported")
    print(
        f"imported {len(terms)} terms from {path.name} as {category}: "
        f"{result.added} new, {result.existing} already known"
    )


@app.command("check")
def check(
    jsonl: Annotated[Path, typer.Option("--jsonl", help='JSONL, one {"text": …} a line.')],
    chat: ChatOption = None,
    platform: PlatformOption = "bridge",
) -> None:
    """Print {"text", "violation", "category", "rules"} for each line (nothing is stored)."""
    lines = _read(jsonl).splitlines()
    with open_database(load_settings(), migrate=True) as factory, transaction(factory) as session:
        checker = _checker(session, platform, chat)
    try:
        output = list(check_jsonl(checker, lines))
    except JsonlInputError as error:
        fail(f"{jsonl.name} {error}")
    if output:
        sys.stdout.write("\n".join(output) + "\n")


@app.command("eval")
def eval_(
    path: Annotated[Path, typer.Argument(help='JSONL: {"text": …, "label": ok|ad|…}.')],
    chat: ChatOption = None,
    platform: PlatformOption = "bridge",
    mistakes: Annotated[bool, typer.Option(help="List the misjudged lines.")] = False,
) -> None:
    """Precision, recall and false-positive rate per category on a labelled file."""
    lines = _read(path).splitlines()
    with open_database(load_settings(), migrate=True) as factory, transaction(factory) as session:
        checker = _checker(session, platform, chat)
    try:
        report = evaluate(checker, lines)
    except ValueError as error:
        fail(f"{path.name} {error}")
    if not report.lines:
        fail(f"{path.name}: no labelled lines")
    print(format_report(report, mistakes=mistakes))
