"""`qunyun posts add/list/approve/…/calendar`: one transaction each, one-line errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from app.cli import cli
from app.db.models import Post
from app.db.session import make_engine
from tests.conftest import ADMIN_TOKEN, BRIDGE_SECRET

runner = CliRunner()


def _env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url,
        "ENVIRONMENT": "test",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "BRIDGE_SECRET": BRIDGE_SECRET,
        "DATA_DIR": str(tmp_path / "data"),
    }


def _posts(db_url: str) -> int:
    engine = make_engine(db_url)
    with engine.connect() as connection:
        total = int(connection.scalar(select(func.count()).select_from(Post)) or 0)
    engine.dispose()
    return total


def test_add_list_approve_and_calendar(db_url: str, tmp_path: Path) -> None:
    env = _env(db_url, tmp_path)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    added = runner.invoke(
        cli,
        [
            "posts",
            "add",
            "--text",
            "每周花卉知识",
            "--chat",
            "g-001",
            "--cron",
            "0 9 * * 1",
            "--title",
            "花卉知识",
        ],
        env=env,
    )
    once = runner.invoke(
        cli, ["posts", "add", "--text", "明日预告", "--tag", "会员", "--at", tomorrow], env=env
    )
    approved = runner.invoke(cli, ["posts", "approve", "1"], env=env)
    listed = runner.invoke(cli, ["posts", "list"], env=env)
    calendar = runner.invoke(cli, ["posts", "calendar", "--days", "8"], env=env)

    assert added.exit_code == 0, added.output
    assert added.output.strip() == "post 1: draft"
    assert once.output.strip() == "post 2: draft"
    assert approved.exit_code == 0
    assert approved.output.startswith("post 1: scheduled (next: ")
    lines = listed.output.strip().splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["1", "scheduled"], ["2", "draft"]]
    assert "花卉知识" in lines[0]
    assert calendar.exit_code == 0, calendar.output
    assert "#1 花卉知识\tplanned\tqueued 1" in calendar.output


def test_bad_input_is_one_line_and_writes_nothing(db_url: str, tmp_path: Path) -> None:
    env = _env(db_url, tmp_path)
    cases = [
        (["posts", "add", "--text", "x", "--cron", "0 9 * * 1"], "--chat or --tag"),
        (["posts", "add", "--text", "x", "--chat", "g", "--cron", "0 9 * *"], "five fields"),
        (["posts", "add", "--text", "x", "--chat", "g", "--at", "tomorrow"], "--at"),
        (["posts", "add", "--text", "x", "--chat", "g", "--at", "2020-01-01T09:00"], "past"),
        (
            [
                "posts",
                "add",
                "--text",
                "x",
                "--chat",
                "g",
                "--cron",
                "0 9 * * 1",
                "--platform",
                "qq",
            ],
            "--platform",
        ),
        (["posts", "approve", "42"], "no post 42"),
        (["posts", "calendar", "--start", "someday"], "--start"),
    ]
    for args, reason in cases:
        result = runner.invoke(cli, args, env=env)

        assert result.exit_code == 2, (args, result.output)
        assert reason in result.output
        assert "Traceback" not in result.output
    assert _posts(db_url) == 0


def test_state_errors_are_reported(db_url: str, tmp_path: Path) -> None:
    env = _env(db_url, tmp_path)
    runner.invoke(
        cli, ["posts", "add", "--text", "x", "--chat", "g", "--cron", "0 9 * * 1"], env=env
    )
    runner.invoke(cli, ["posts", "cancel", "1"], env=env)

    result = runner.invoke(cli, ["posts", "approve", "1"], env=env)

    assert result.exit_code == 2
    assert "cannot approve a post that is cancelled" in result.output
