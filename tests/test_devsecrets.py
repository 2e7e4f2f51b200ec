"""Development secrets are created once, kept private, and never used outside development."""

from __future__ import annotations

import stat
from pathlib import Path

from pydantic import SecretStr

from app.devsecrets import FILE_NAME, with_dev_secrets
from app.settings import Settings


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_dev_secrets_are_stable_and_private(tmp_path: Path) -> None:
    first = with_dev_secrets(_settings(tmp_path, environment="development"))
    second = with_dev_secrets(_settings(tmp_path, environment="development"))

    assert first.admin_token is not None
    assert second.admin_token is not None
    assert first.admin_token.get_secret_value() == second.admin_token.get_secret_value()
    assert len(first.admin_token.get_secret_value()) >= 24
    mode = (tmp_path / FILE_NAME).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_explicit_secrets_win(tmp_path: Path) -> None:
    settings = with_dev_secrets(
        _settings(tmp_path, environment="development", admin_token=SecretStr("mine-0123456789"))
    )

    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == "mine-0123456789"


def test_test_environment_gets_none(tmp_path: Path) -> None:
    settings = with_dev_secrets(_settings(tmp_path, environment="test"))

    assert settings.admin_token is None
    assert not (tmp_path / FILE_NAME).exists()
