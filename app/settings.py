"""Settings: environment variables (SPEC names) over config/settings.toml defaults.

Built once per process by `get_settings()`; nothing reads the environment at import time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
PLACEHOLDERS = frozenset(
    {"", "changeme", "change-me", "change_me", "placeholder", "secret", "xxx", "todo", "test"}
)
MIN_SHARED_SECRET_LENGTH = 16


class OutboxSettings(BaseModel):
    max_attempts: int = Field(6, ge=1, le=50)
    backoff_base_seconds: float = Field(2.0, gt=0)
    backoff_max_seconds: float = Field(600.0, gt=0)
    lease_seconds: float = Field(60.0, gt=0)
    robot_messages_per_minute: int = Field(18, ge=1, le=20)
    poll_interval_seconds: float = Field(1.0, gt=0)


class InboxSettings(BaseModel):
    max_attempts: int = Field(5, ge=1, le=50)
    poll_interval_seconds: float = Field(1.0, gt=0)
    nonce_ttl_seconds: int = Field(7200, ge=0)
    batch_size: int = Field(100, ge=1, le=1000)


class Settings(BaseSettings):
    """Every setting Qunyun reads. Env names are the SPEC's (DATABASE_URL, ADMIN_TOKEN, ...)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_nested_delimiter="__",
        env_ignore_empty=True,
        extra="ignore",
        toml_file=CONFIG_DIR / "settings.toml",
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./data/qunyun.db"
    data_dir: Path = Path("./data")
    admin_token: SecretStr | None = None
    bridge_secret: SecretStr | None = None
    bridge_send_url: str | None = None
    payment_callback_secret: SecretStr | None = None
    wecom_corp_id: str | None = None
    wecom_app_token: SecretStr | None = None
    wecom_app_encoding_aes_key: SecretStr | None = None
    wecom_app_secret: SecretStr | None = None
    wecom_agent_id: int | None = None
    wecom_bot_token: SecretStr | None = None
    wecom_bot_encoding_aes_key: SecretStr | None = None
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    wecom_bot_reply_budget_seconds: float = Field(3.0, ge=0, le=4.5)
    callback_max_age_seconds: int = Field(300, ge=0)
    max_callback_body_bytes: int = Field(65536, ge=1024)
    timezone: str = "Asia/Shanghai"
    outbox: OutboxSettings = OutboxSettings()
    inbox: InboxSettings = InboxSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls)
        return init_settings, env_settings, dotenv_settings, toml, file_secret_settings

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r} (use an IANA name such as Asia/Shanghai)"
            ) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        return normalize_database_url(value)

    @model_validator(mode="after")
    def _production_secrets(self) -> Self:
        if self.environment == "production":
            problems = production_secret_problems(self)
            if problems:
                raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def wecom_app_enabled(self) -> bool:
        return bool(
            self.wecom_app_token and self.wecom_app_encoding_aes_key and self.wecom_corp_id
        )

    @property
    def wecom_bot_enabled(self) -> bool:
        return bool(self.wecom_bot_token and self.wecom_bot_encoding_aes_key)


def normalize_database_url(url: str) -> str:
    """Accept the SPEC's URL spellings; PostgreSQL always goes through psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    raise ValueError(
        "DATABASE_URL must start with sqlite://, postgresql:// or postgresql+psycopg://"
    )


def _is_placeholder(secret: SecretStr | None) -> bool:
    if secret is None:
        return True
    value = secret.get_secret_value().strip()
    return value.lower() in PLACEHOLDERS or value.startswith("<") or "your" in value.lower()


def production_secret_problems(settings: Settings) -> list[str]:
    """Name every secret that is missing or still a placeholder (values are never echoed)."""
    problems: list[str] = []
    shared = {"ADMIN_TOKEN": settings.admin_token}
    if settings.bridge_secret is not None or settings.bridge_send_url:
        shared["BRIDGE_SECRET"] = settings.bridge_secret
    if settings.payment_callback_secret is not None:
        shared["PAYMENT_CALLBACK_SECRET"] = settings.payment_callback_secret
    for name, secret in shared.items():
        if _is_placeholder(secret):
            problems.append(f"{name} is missing or a placeholder")
        elif secret is not None and len(secret.get_secret_value()) < MIN_SHARED_SECRET_LENGTH:
            problems.append(f"{name} is shorter than {MIN_SHARED_SECRET_LENGTH} characters")
    app_secrets = {
        "WECOM_APP_TOKEN": settings.wecom_app_token,
        "WECOM_APP_ENCODING_AES_KEY": settings.wecom_app_encoding_aes_key,
        "WECOM_APP_SECRET": settings.wecom_app_secret,
    }
    if settings.wecom_corp_id or any(value is not None for value in app_secrets.values()):
        problems += [
            f"{n} is missing or a placeholder"
            for n, v in app_secrets.items()
            if _is_placeholder(v)
        ]
        if not settings.wecom_corp_id:
            problems.append("WECOM_CORP_ID is missing")
    bot_secrets = {
        "WECOM_BOT_TOKEN": settings.wecom_bot_token,
        "WECOM_BOT_ENCODING_AES_KEY": settings.wecom_bot_encoding_aes_key,
    }
    if any(value is not None for value in bot_secrets.values()):
        problems += [
            f"{n} is missing or a placeholder"
            for n, v in bot_secrets.items()
            if _is_placeholder(v)
        ]
    return problems


@lru_cache
def get_settings() -> Settings:
    return Settings()
