"""`qunyun moderation`: import-words, check --jsonl (SPEC shape), eval; bad input is one line
and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from tests.conftest import ADMIN_TOKEN, BRIDGE_SECRET

runner = CliRunner()


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


def _jsonl(tmp_path: Path, *items: dict[str, str]) -> Path:
    lines = "\n".join(json.dumps(item, ensure_ascii=False) for item in items)
    return _file(tmp_path, "in.jsonl", lines + "\n")


def test_imported_words_are_used_by_check(env: dict[str, str], tmp_path: Path) -> None:
    words = _file(tmp_path, "words.txt", "# 店里的黑名单词\n蓝莓团购\n\n藍莓 團購\n代还信用卡\n")
    texts = _jsonl(
        tmp_path, {"text": "周末蓝莓团购"}, {"text": "今天的花真好看"}, {"text": "加 微 信领福利"}
    )

    imported = runner.invoke(
        cli, ["moderation", "import-words", str(words), "--category", "scam"], env=env
    )
    checked = runner.invoke(cli, ["moderation", "check", "--jsonl", str(texts)], env=env)

    assert imported.exit_code == 0, imported.output
    assert "3 terms" in imported.stdout
    assert "2 new, 1 already known" in imported.stdout
    assert checked.exit_code == 0, checked.output
    lines = [json.loads(line) for line in checked.stdout.splitlines()]
    assert lines[0] == {
        "text": "周末蓝莓团购",
        "violation": True,
        "category": "scam",
        "rules": ["banned_words.scam"],
    }
    assert lines[1] == {
        "text": "今天的花真好看",
        "violation": False,
        "category": None,
        "rules": [],
    }
    assert lines[2]["category"] == "ad"


def test_eval_prints_per_category_figures(env: dict[str, str], tmp_path: Path) -> None:
    labelled = _jsonl(
        tmp_path,
        {"text": "刷单返利，一单一结", "label": "scam"},
        {"text": "加微信领福利", "label": "ad"},
        {"text": "买了一卷垃圾袋", "label": "ok"},
        {"text": "今天加班", "label": "ok"},
    )

    result = runner.invoke(cli, ["moderation", "eval", str(labelled)], env=env)

    assert result.exit_code == 0, result.output
    assert "4 lines" in result.stdout
    assert "precision" in result.stdout
    assert "recall" in result.stdout
    assert "fp rate" in result.stdout
    scam = next(line for line in result.stdout.splitlines() if line.startswith("scam"))
    assert "1.000 (1/1)" in scam


@pytest.mark.parametrize(
    ("args", "content", "reason"),
    [
        (["import-words", "{path}"], "好词\n!!!\n", "line 2: term '!!!' has no letters"),
        (["import-words", "{path}", "--category", "rude"], "词\n", "--category must be one of"),
        (["import-words", "{path}"], "# only a comment\n", "no terms"),
        (["import-words", "{path}"], "词".encode("gbk"), "not UTF-8"),
        (["check", "--jsonl", "{path}"], '{"text": "ok"}\nnot json\n', "line 2: not JSON"),
        (["check", "--jsonl", "{path}"], '{"q": "wrong key"}\n', "line 1: expected an object"),
        (["eval", "{path}"], '{"text": "x", "label": "rude"}\n', "line 1: label must be one of"),
        (["eval", "{path}"], "\n", "no labelled lines"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    env: dict[str, str], tmp_path: Path, args: list[str], content: str | bytes, reason: str
) -> None:
    path = _file(tmp_path, "input.txt", content)

    result = runner.invoke(
        cli, ["moderation", *(a.replace("{path}", str(path)) for a in args)], env=env
    )

    assert result.exit_code == 2
    assert reason in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_file_is_reported(env: dict[str, str], tmp_path: Path) -> None:
    result = runner.invoke(
        cli, ["moderation", "check", "--jsonl", str(tmp_path / "nope.jsonl")], env=env
    )

    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_nothing_is_imported_when_a_line_is_bad(env: dict[str, str], tmp_path: Path) -> None:
    words = _file(tmp_path, "words.txt", "蓝莓团购\n@@@\n")
    texts = _jsonl(tmp_path, {"text": "周末蓝莓团购"})

    runner.invoke(cli, ["moderation", "import-words", str(words)], env=env)
    checked = runner.invoke(cli, ["moderation", "check", "--jsonl", str(texts)], env=env)

    assert json.loads(checked.stdout)["violation"] is False
