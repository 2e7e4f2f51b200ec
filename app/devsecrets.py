"""Development conveniences: a random admin token and bridge secret, kept in the data dir.

Only in `environment = development`, only for secrets that are not set; `qunyun serve` and
`qunyun simulate` read the same file, so the simulator can sign bridge messages and read the
bot's replies without any setup. Production never gets here (it refuses missing secrets).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from app.settings import Settings

FILE_NAME = "dev-secrets.json"


def with_dev_secrets(settings: Settings) -> Settings:
    if settings.environment != "development":
        return settings
    if settings.admin_token is not None and settings.bridge_secret is not None:
        return settings
    stored = _load_or_create(settings.data_dir / FILE_NAME)
    update: dict[str, SecretStr] = {}
    if settings.admin_token is None:
        update["admin_token"] = SecretStr(stored["admin_token"])
    if settings.bridge_secret is None:
        update["bridge_secret"] = SecretStr(stored["bridge_secret"])
    return settings.model_copy(update=update)


def _load_or_create(path: Path) -> dict[str, str]:
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and {"admin_token", "bridge_secret"} <= data.keys():
            return {k: str(v) for k, v in data.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"admin_token": secrets.token_urlsafe(24), "bridge_secret": secrets.token_urlsafe(32)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    return data
