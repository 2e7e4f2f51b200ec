"""Shared fixtures: a real database per test (SQLite or PostgreSQL), a fixed clock,
settings, the runtime with its workers stopped, and a TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.session import make_engine, make_session_factory
from app.main import create_app
from app.runtime import Runtime, build_runtime
from app.settings import Settings
from tests.databases import PostgresTemplate, SqliteTemplate, postgres_admin_url

pytest_plugins = ["tests.fakes"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI)
ADMIN_TOKEN = "test-admin-token-0123456789"
BRIDGE_SECRET = "test-bridge-secret-0123456789"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if postgres_admin_url() is None:
        skip = pytest.mark.skip(reason="needs PostgreSQL (set TEST_DATABASE_URL)")
        for item in items:
            if "postgres_only" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def _pg_template() -> Iterator[PostgresTemplate | None]:
    admin = postgres_admin_url()
    if admin is None:
        yield None
        return
    template = PostgresTemplate(admin)
    template.create()
    yield template
    template.drop()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    template = SqliteTemplate(tmp_path_factory.mktemp("sqlite-template"))
    template.create()
    return template


@pytest.fixture
def db_url(
    _pg_template: PostgresTemplate | None, _sqlite_template: SqliteTemplate, tmp_path: Path
) -> Iterator[str]:
    if _pg_template is None:
        yield _sqlite_template.fresh_url(tmp_path)
        return
    engine = make_engine(_pg_template.url, pool_size=1)
    _pg_template.clean(engine)
    engine.dispose()
    yield _pg_template.url


@pytest.fixture
def is_postgres(db_url: str) -> bool:
    return db_url.startswith("postgresql")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        environment="test",
        database_url=db_url,
        data_dir=tmp_path / "data",
        admin_token=SecretStr(ADMIN_TOKEN),
        bridge_secret=SecretStr(BRIDGE_SECRET),
        bridge_send_url=None,
        payment_callback_secret=None,
        wecom_corp_id=None,
        wecom_app_token=None,
        wecom_app_encoding_aes_key=None,
        wecom_app_secret=None,
        wecom_agent_id=None,
        wecom_bot_token=None,
        wecom_bot_encoding_aes_key=None,
    )


@pytest.fixture
def runtime(settings: Settings, clock: FixedClock) -> Iterator[Runtime]:
    rt = build_runtime(settings, clock=clock)
    yield rt
    rt.stop()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime=runtime, start_workers=False)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
