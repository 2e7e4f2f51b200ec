"""The `qunyun` command line: db upgrade, demo, simulate against a live server, bad input."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.cli import cli
from app.cli.simulate import mentions_bot
from app.db.models import Chat, Member
from app.main import create_app
from app.runtime import build_runtime
from app.settings import Settings
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


def test_db_upgrade_is_idempotent(db_url: str, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["db", "upgrade"], env=_env(db_url, tmp_path))

    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_bad_database_url_is_a_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["db", "upgrade"], env={**_env("mysql://x@y/z", tmp_path)})

    assert result.exit_code == 2
    assert "DATABASE_URL" in result.output
    assert "Traceback" not in result.output


def test_production_without_secrets_refuses_with_the_secret_named(tmp_path: Path) -> None:
    env = {**_env("sqlite:///" + str(tmp_path / "x.db"), tmp_path), "ENVIRONMENT": "production"}
    env["ADMIN_TOKEN"] = "changeme"

    result = runner.invoke(cli, ["db", "upgrade"], env=env)

    assert result.exit_code == 2
    assert "ADMIN_TOKEN" in result.output


def test_demo_seeds_once(db_url: str, tmp_path: Path, settings: Settings) -> None:
    env = _env(db_url, tmp_path)
    first = runner.invoke(cli, ["demo"], env=env)
    second = runner.invoke(cli, ["demo"], env=env)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    runtime = build_runtime(settings)
    try:
        with runtime.deps.session_factory() as session:
            chats = session.scalar(select(func.count()).select_from(Chat))
            members = session.scalar(select(func.count()).select_from(Member))
    finally:
        runtime.stop()
    assert chats == 2
    assert members == 4


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    runtime = build_runtime(settings)  # real clock: simulate signs with the current time
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(runtime=runtime), host="127.0.0.1", port=port, log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)  # waiting for a real server socket, not for business time
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    runtime.stop()


def test_simulate_shows_the_bots_reply(live_server: str, db_url: str, tmp_path: Path) -> None:
    result = runner.invoke(
        cli, ["simulate", "--url", live_server, "-m", "帮助"], env=_env(db_url, tmp_path)
    )

    assert result.exit_code == 0, result.output
    assert "群助手:" in result.output
    assert "签到" in result.output


def test_simulate_flags_a_typed_mention_of_the_bot(
    live_server: str, db_url: str, tmp_path: Path
) -> None:
    question = "@小助手 你们招不招兼职花艺师"
    result = runner.invoke(
        cli, ["simulate", "--url", live_server, "-m", question], env=_env(db_url, tmp_path)
    )

    assert result.exit_code == 0, result.output
    assert "转人工" in result.output  # a mention always gets an answer or the hand-over
    assert (mentions_bot(question), mentions_bot("你们招不招兼职花艺师？")) == (True, False)


def test_simulate_without_a_server_fails_cleanly(db_url: str, tmp_path: Path) -> None:
    result = runner.invoke(
        cli, ["simulate", "--url", "http://127.0.0.1:9", "-m", "帮助"], env=_env(db_url, tmp_path)
    )

    assert result.exit_code == 2
    assert "not reachable" in result.output
