"""`qunyun serve`: the web service with its inbox worker and outbox dispatcher."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from app.cli.common import fail, load_settings
from app.db.migrate import upgrade
from app.logs import setup_logging


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Web worker processes.")] = 1,
) -> None:
    """Run the bot: callbacks, admin API, inbox processing and sending."""
    settings = load_settings()
    setup_logging()
    if not settings.is_production and settings.database_url.startswith("sqlite"):
        upgrade(settings.database_url)  # a fresh checkout just works
    if settings.environment == "development" and settings.admin_token is not None:
        print(f"Qunyun dev server on http://{host}:{port}  (admin API docs: /docs)")
        print(f"ADMIN_TOKEN for this dev database: {settings.admin_token.get_secret_value()}")
        print("Chat with the bot in another terminal: qunyun simulate")
    try:
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            access_log=False,
        )
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error}")
