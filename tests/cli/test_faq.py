"""`qunyun faq`: import (all or nothing), export, match --jsonl (SPEC shape), eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.faq.csv_io import write_kb_csv
from tests.conftest import ADMIN_TOKEN, BRIDGE_SECRET
from tests.faq.conftest import TINY_KB

runner = CliRunner()
HEADER = "id,question,similar_questions,answer,tags\n"


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url,
        "ENVIRONMENT": "test",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "BRIDGE_SECRET": BRIDGE_SECRET,
        "DATA_DIR": str(tmp_path / "data"),
    }


def _file(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _kb(tmp_path: Path) -> Path:
    return _file(tmp_path, "kb.csv", write_kb_csv(TINY_KB))


def test_import_then_match_prints_one_spec_line_per_question(
    env: dict[str, str], tmp_path: Path
) -> None:
    imported = runner.invoke(cli, ["faq", "import", str(_kb(tmp_path))], env=env)
    questions = _file(
        tmp_path, "q.jsonl", '{"q": "運費怎麼算？"}\n\n{"q": "早上好"}\n{"q": "股票能买吗"}\n'
    )

    matched = runner.invoke(cli, ["faq", "match", "--jsonl", str(questions)], env=env)

    assert imported.exit_code == 0, imported.output
    assert "9 new" in imported.output
    assert matched.exit_code == 0, matched.output
    lines = [json.loads(line) for line in matched.stdout.splitlines()]
    assert [(x["q"], x["entry_id"]) for x in lines] == [
        ("運費怎麼算？", "S1"),
        ("早上好", None),
        ("股票能买吗", None),
    ]
    assert all(isinstance(x["score"], float) for x in lines)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("id,question\n", "line 1: the header must be exactly"),
        (HEADER + "N1,新问题,,新答案,\n,没编号,,答案,\n", "line 3: missing id"),
        (HEADER + "N1,问题,,答案,\nN1,问题二,,答案二,\n", "line 3: duplicate id 'N1'"),
        ((HEADER + "N1,新问题,,新答案,\n").encode("gbk"), "line 2: the file is not valid UTF-8"),
    ],
)
def test_a_bad_file_is_one_line_exit_2_and_nothing_imported(
    env: dict[str, str], tmp_path: Path, content: str | bytes, reason: str
) -> None:
    runner.invoke(cli, ["faq", "import", str(_kb(tmp_path))], env=env)
    before = runner.invoke(cli, ["faq", "export"], env=env).stdout

    result = runner.invoke(
        cli, ["faq", "import", str(_file(tmp_path, "bad.csv", content))], env=env
    )

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert reason in result.stderr
    assert runner.invoke(cli, ["faq", "export"], env=env).stdout == before


def test_bad_match_input_is_a_one_line_error(env: dict[str, str], tmp_path: Path) -> None:
    missing = runner.invoke(
        cli, ["faq", "match", "--jsonl", str(tmp_path / "nope.jsonl")], env=env
    )
    not_json = runner.invoke(
        cli,
        ["faq", "match", "--jsonl", str(_file(tmp_path, "x.jsonl", '{"q": "a"}\n{oops\n'))],
        env=env,
    )
    no_q = runner.invoke(
        cli,
        ["faq", "match", "--jsonl", str(_file(tmp_path, "y.jsonl", '{"text": "a"}\n'))],
        env=env,
    )

    assert [r.exit_code for r in (missing, not_json, no_q)] == [2, 2, 2]
    assert "line 2: not JSON" in not_json.stderr
    assert 'line 1: expected an object with a string "q"' in no_q.stderr


def test_eval_prints_our_figures_beside_the_baseline(env: dict[str, str], tmp_path: Path) -> None:
    lines = [
        {"q": "送货要多少钱呀", "expected_id": "S1"},
        {"q": "積分能抵現嗎", "expected_id": "S3"},
        {"q": "哈哈哈哈", "expected_id": None},
        {"q": "明天会下雨吗", "expected_id": None},
    ]
    labelled = _file(tmp_path, "dev.jsonl", "\n".join(json.dumps(x) for x in lines))

    result = runner.invoke(
        cli, ["faq", "eval", str(labelled), "--kb", str(_kb(tmp_path)), "--misses"], env=env
    )

    assert result.exit_code == 0, result.output
    assert "answerable accuracy" in result.stdout
    assert "false-answer rate" in result.stdout
    assert "bm25" in result.stdout
    assert "lines: 2 answerable, 2 null" in result.stdout
