"""`qunyun db upgrade`: bring the database schema to the newest revision."""

from __future__ import annotations

import typer
from sqlalchemy.exc import OperationalError

from app.cli.common import load_settings, unreachable
from app.db.migrate import upgrade as run_upgrade

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply every migration (SQLite or PostgreSQL, from DATABASE_URL)."""
    settings = load_settings()
    try:
        run_upgrade(settings.database_url)
    except OperationalError as error:
        unreachable(error)
    print("database is up to date")
