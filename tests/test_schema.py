"""The initial migration and the models describe the same schema, on both backends."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from router.db import Database, alembic_config
from router.models import Base


def test_migrated_database_matches_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_a_database_made_by_an_earlier_release_upgrades_to_the_models(db: Database) -> None:
    command.downgrade(alembic_config(db.url), "0001")
    assert "ix_attempts_decision_id" in _index_names(db, "attempts")
    db.upgrade()
    assert "ix_attempts_decision_id" not in _index_names(db, "attempts")
    test_migrated_database_matches_the_models(db)


def _index_names(db: Database, table: str) -> set[str]:
    return {str(index["name"]) for index in inspect(db.engine).get_indexes(table)}
