"""Settings: SPEC names, URL spellings, production refuses missing or placeholder secrets."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from app.settings import Settings, normalize_database_url


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///./data/x.db", "sqlite:///./data/x.db"),
    ],
)
def test_database_url_spellings(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL must start with"):
        make(database_url="mysql://u@h/db")


def test_production_names_the_missing_admin_token() -> None:
    with pytest.raises(ValidationError, match="ADMIN_TOKEN is missing"):
        make(environment="production", admin_token=None)


def test_production_refuses_placeholder_bridge_secret() -> None:
    with pytest.raises(ValidationError, match="BRIDGE_SECRET is missing or a placeholder"):
        make(
            environment="production",
            admin_token=SecretStr("a-real-long-admin-token-123"),
            bridge_secret=SecretStr("changeme"),
        )


@pytest.mark.parametrize(
    ("secret", "problem"),
    [("changeme", "is missing or a placeholder"), ("short-secret", "is shorter than 16")],
)
def test_production_refuses_a_weak_payment_callback_secret(secret: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=f"PAYMENT_CALLBACK_SECRET {problem}") as caught:
        make(
            environment="production",
            admin_token=SecretStr("a-real-long-admin-token-123"),
            payment_callback_secret=SecretStr(secret),
        )
    assert secret not in str(caught.value)  # never echo a secret


def test_production_without_a_payment_callback_secret_starts() -> None:
    settings = make(
        environment="production",
        admin_token=SecretStr("a-real-long-admin-token-123"),
        payment_callback_secret=None,
    )
    assert settings.payment_callback_secret is None


def test_production_requires_every_secret_of_a_configured_wecom_app() -> None:
    with pytest.raises(ValidationError) as caught:
        make(
            environment="production",
            admin_token=SecretStr("a-real-long-admin-token-123"),
            wecom_corp_id="ww123",
            wecom_app_token=SecretStr("tok-abcdefgh"),
        )
    text = str(caught.value)
    assert "WECOM_APP_ENCODING_AES_KEY" in text
    assert "WECOM_APP_SECRET" in text
    assert "tok-abcdefgh" not in text  # never echo a secret


def test_production_with_real_secrets_starts() -> None:
    settings = make(
        environment="production",
        admin_token=SecretStr("a-real-long-admin-token-123"),
        bridge_secret=SecretStr("a-real-long-bridge-secret-456"),
    )
    assert settings.is_production


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown timezone"):
        make(timezone="Mars/Olympus")


def test_environment_variables_use_spec_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLBACK_MAX_AGE_SECONDS", "0")
    monkeypatch.setenv("TIMEZONE", "Asia/Urumqi")
    monkeypatch.setenv("WECOM_API_BASE", "http://127.0.0.1:9")
    settings = make()
    assert settings.callback_max_age_seconds == 0
    assert settings.timezone == "Asia/Urumqi"
    assert settings.wecom_api_base == "http://127.0.0.1:9"
