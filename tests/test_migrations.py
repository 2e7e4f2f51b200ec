"""The migrated schema is exactly what the models declare (on SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from app.db.migrate import alembic_config
from app.db.models import Base


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)

    assert diff == []


def test_every_migration_hangs_off_the_foundation(db_url: str) -> None:
    scripts = ScriptDirectory.from_config(alembic_config(db_url))
    revisions = list(scripts.walk_revisions())

    assert {r.revision for r in revisions if r.down_revision is None} == {"0001"}
    assert len({r.revision for r in revisions}) == len(revisions)
