"""`qunyun faq …`: import and export the knowledge base, match questions, evaluate the matcher.

`import` checks the whole CSV first (a bad row: one line-numbered error, exit 2, nothing
imported), then upserts every row by id in one transaction and moves the KB version, so running
bots rebuild their index. `export` and `match` only read; `eval` reads a labelled JSONL file and
prints our figures beside the BM25 baseline's.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from app.cli.common import fail, load_settings, open_database
from app.clock import SystemClock
from app.db.session import transaction
from app.faq.cache import FaqIndexCache, KbSnapshot
from app.faq.config import FaqConfigError, load_faq_config
from app.faq.csv_io import KbImportError, count_rows, parse_kb_csv, write_kb_csv
from app.faq.evaluate import EvalDataError, evaluate, format_report, parse_eval_lines
from app.faq.index import FaqIndex, KbEntry
from app.services.faq import FaqService, snapshot, snapshot_loader

app = typer.Typer(help="FAQ knowledge base (常见问题).", no_args_is_help=True)
PROGRESS_FROM_ROWS = 2000  # smaller files import without a progress bar


def _read(path: Path) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror or error}")


def _parse(path: Path, data: bytes) -> list[KbEntry]:
    rows = count_rows(data)
    try:
        if rows < PROGRESS_FROM_ROWS:
            return parse_kb_csv(data)
        columns = (TextColumn("checking"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task("rows", total=rows)
            return parse_kb_csv(data, lambda done: progress.update(task, completed=done))
    except KbImportError as error:
        fail(f"{path.name}: {error}; nothing imported")


@app.command("import")
def import_kb(path: Annotated[Path, typer.Argument(help="CSV: id,question,…")]) -> None:
    """Upsert entries by id from a CSV file (all or nothing)."""
    entries = _parse(path, _read(path))
    with open_database(load_settings(), migrate=True) as factory, transaction(factory) as session:
        service = FaqService(session, FaqIndexCache(), snapshot_loader(factory))
        result = service.import_entries(entries, now=SystemClock().now())
    print(
        f"imported {result.total} entries from {path.name}: {result.created} new, "
        f"{result.updated} updated, {result.unchanged} unchanged"
    )


@app.command("export")
def export_kb(
    out: Annotated[
        Path | None, typer.Option("--out", help="File to write (default stdout).")
    ] = None,
) -> None:
    """Write every entry as CSV in the import format."""
    with open_database(load_settings(), migrate=True) as factory, transaction(factory) as session:
        text = write_kb_csv(
            FaqService(session, FaqIndexCache(), snapshot_loader(factory)).export()
        )
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {out}: {error.strerror or error}")
    print(f"exported to {out}")


def _questions(path: Path) -> list[str]:
    try:
        text = _read(path).decode("utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{path}: not UTF-8")
    questions: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as error:
            fail(f"{path.name} line {number}: not JSON ({error.msg})")
        if not isinstance(item, dict) or not isinstance(item.get("q"), str):
            fail(f'{path.name} line {number}: expected an object with a string "q"')
        questions.append(item["q"])
    return questions


def _db_index() -> tuple[FaqIndex, KbSnapshot]:
    with open_database(load_settings(), migrate=True) as factory, transaction(factory) as session:
        kb = snapshot(session)
    return _build(kb.entries), kb


def _build(entries: Sequence[KbEntry]) -> FaqIndex:
    try:
        config = load_faq_config()
    except FaqConfigError as error:
        fail(str(error))
    return FaqIndex.build(entries, config)


@app.command("match")
def match(
    jsonl: Annotated[Path, typer.Option("--jsonl", help='One {"q": …} a line ("-": stdin).')],
) -> None:
    """Print {"q", "entry_id", "score"} for each question, matched against the stored KB."""
    questions = _questions(jsonl)
    index, kb = _db_index()
    now = SystemClock().now()

    for q in questions:
        result = index.match(q, lambda entry_id: kb.rules[entry_id].valid_at(now))
        line = {"q": q, "entry_id": result.entry_id, "score": round(result.score, 4)}
        print(json.dumps(line, ensure_ascii=False))


@app.command("eval")
def eval_kb(
    path: Annotated[Path, typer.Argument(help='JSONL: {"q": …, "expected_id": id | null}')],
    kb: Annotated[
        Path | None, typer.Option("--kb", help="Evaluate against this CSV, not the stored KB.")
    ] = None,
    misses: Annotated[bool, typer.Option(help="List the lines we got wrong.")] = False,
) -> None:
    """Answerable accuracy and false-answer rate, ours beside a plain BM25 baseline."""
    try:
        lines = parse_eval_lines(_read(path).decode("utf-8-sig"))
    except (EvalDataError, UnicodeDecodeError) as error:
        fail(f"{path.name}: {error}")
    index = _build(_parse(kb, _read(kb))) if kb is not None else _db_index()[0]
    report = evaluate(index, lines, load_faq_config().matching)
    print(format_report(report, show_misses=misses))
