"""The migrations and the models describe the same schema, on both backends.

alembic cannot compare an index on an expression where SQLite cannot
reflect one (`ix_agents_office_idle`, which revision 0004 added and 0005
dropped): that index is checked by name.
"""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from router.storage.db import Database, alembic_config
from router.storage.models import Base

_EXPRESSION_INDEX_WARNINGS = (
    "ignore:Skipped unsupported reflection of expression-based index",
    "ignore:autogenerate skipping metadata-specified expression-based index",
)


@pytest.mark.filterwarnings(*_EXPRESSION_INDEX_WARNINGS)
def test_migrated_database_matches_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


@pytest.mark.filterwarnings(*_EXPRESSION_INDEX_WARNINGS)
def test_a_database_made_by_an_earlier_release_upgrades_to_the_models(db: Database) -> None:
    command.downgrade(alembic_config(db.url), "0001")
    assert "ix_attempts_decision_id" in _index_names(db, "attempts")
    assert _index_names(db, "agents") >= {"ix_agents_office_id"}
    assert "ix_agents_office_idle" not in _index_names(db, "agents")
    db.upgrade("0004")
    assert "ix_attempts_decision_id" not in _index_names(db, "attempts")
    assert "ix_agents_office_id" not in _index_names(db, "agents")
    assert "ix_agents_office_idle" in _index_names(db, "agents")
    db.upgrade()
    assert "ix_agents_office_id" in _index_names(db, "agents")
    assert "ix_agents_office_idle" not in _index_names(db, "agents")
    test_migrated_database_matches_the_models(db)


def _index_names(db: Database, table: str) -> set[str]:
    """Every index of `table`, those on expressions too (which SQLite's reflection leaves out)."""
    query = {
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table",
        "postgresql": "SELECT indexname FROM pg_indexes WHERE tablename = :table",
    }[db.backend]
    with db.engine.connect() as connection:
        return {str(name) for name in connection.execute(text(query), {"table": table}).scalars()}


def test_a_0005_database_with_data_upgrades_to_take_bookings(db: Database) -> None:
    from datetime import UTC, datetime

    from router.directory import household_reads, households, offices
    from router.splits import bookings

    command.downgrade(alembic_config(db.url), "0005")
    with db.unit_of_work() as s:
        offices.add_office(s, "msk", region="RU")
        offices.add_agent(s, "m1", office="msk", dial="PJSIP/101")
        hid = households.add_household(
            s, owner="m1", actor="t", numbers=[household_reads.NumberSpec("+79161234567")]
        ).id
    assert "bookings" not in _tables(db)
    db.upgrade()
    with db.unit_of_work() as s:
        bookings.add_booking(
            s, hid, ref="T-1", amount=150, closed_at=datetime(2026, 3, 1, tzinfo=UTC), actor="t"
        )
    with db.reader() as s:
        assert household_reads.resolve(s, "+79161234567", "RU").id == hid
        assert [(b.household, b.amount) for b in bookings.list_bookings(s)] == [(hid, 150)]
    assert "ix_bookings_household_closed" in _index_names(db, "bookings")


def _tables(db: Database) -> set[str]:
    from sqlalchemy import inspect

    with db.engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def test_a_0005_database_with_households_upgrades_to_remember_rejected_suggestions(db: Database) -> None:
    from router.directory import household_reads, households, suggestions

    command.downgrade(alembic_config(db.url), "0005")
    with db.unit_of_work() as s:
        first, second = (
            households.add_household(s, actor="t", numbers=[household_reads.NumberSpec(n)]).id
            for n in ("+79161234567", "+79167654321")
        )
    assert "suggestion_rejections" not in _tables(db)
    db.upgrade()
    with db.unit_of_work() as s:
        assert suggestions.reject(s, second, first, actor="t", reason="тёзки")
    with db.reader() as s:
        assert suggestions.rejected(s) == {(first, second)}
        assert household_reads.resolve(s, "+79161234567", "RU").id == first


def test_a_0005_database_with_data_upgrades_to_hold_disputes(db: Database) -> None:
    from router.directory import disputes, household_reads, households, offices

    command.downgrade(alembic_config(db.url), "0005")
    with db.unit_of_work() as s:
        offices.add_office(s, "msk", region="RU")
        offices.add_agent(s, "m1", office="msk", dial="PJSIP/101")
        offices.add_agent(s, "m2", office="msk", dial="PJSIP/102")
        hid = households.add_household(
            s, owner="m1", actor="t", numbers=[household_reads.NumberSpec("+79161234567")]
        ).id
    assert "disputes" not in _tables(db)
    db.upgrade()
    with db.unit_of_work() as s:
        opened = disputes.open_dispute(s, hid, ["m1", "m2"], reason="both", actor="t")
    with db.reader() as s:
        assert household_reads.resolve(s, "+79161234567", "RU").owner.login == "m1"  # type: ignore[union-attr]
        assert [d.id for d in disputes.list_disputes(s, open_only=True)] == [opened.id]
    assert "ix_disputes_household_open" in _index_names(db, "disputes")


def test_a_0022_database_with_data_upgrades_to_hold_co_owners(db: Database) -> None:
    from router.directory import household_reads, households, offices

    command.downgrade(alembic_config(db.url), "0022")
    with db.unit_of_work() as s:
        offices.add_office(s, "msk", region="RU")
        offices.add_agent(s, "m1", office="msk", dial="PJSIP/101")
        offices.add_agent(s, "m2", office="msk", dial="PJSIP/102")
        hid = households.add_household(
            s, owner="m1", actor="t", numbers=[household_reads.NumberSpec("+79161234567")]
        ).id
    assert "household_owners" not in _tables(db)
    db.upgrade()
    with db.unit_of_work() as s:
        households.set_owners(s, hid, ["m1", "m2"], mode="equal", reason="both", actor="t")
    with db.reader() as s:
        view = household_reads.household_view(household_reads.resolve(s, "+79161234567", "RU"))
    assert (view.owner, view.co_owners, view.owners_mode) == ("m1", ("m2",), "equal")


def test_a_0022_database_with_names_upgrades_to_find_them_through_the_name_index(db: Database) -> None:
    from router.directory import household_reads

    command.downgrade(alembic_config(db.url), "0022")
    assert "name_words" not in _tables(db)
    # Written as release 0022 wrote them: no name index yet.
    with db.engine.begin() as connection:
        for hid, name in ((1, "Ивановы"), (2, ""), (3, "Petrovy")):
            connection.execute(
                text(
                    "INSERT INTO households (id, name, email, address, origin, created_at) "
                    "VALUES (:id, :name, '', '', 'admin', CURRENT_TIMESTAMP)"
                ),
                {"id": hid, "name": name},
            )
        for hid, position, full_name in (
            (1, 0, "Иванова Юлия"),
            (2, 0, "Щукин Фёдор"),
            (2, 1, "Щукина Анна"),
        ):
            connection.execute(
                text("INSERT INTO members (household_id, position, full_name) VALUES (:h, :p, :n)"),
                {"h": hid, "p": position, "n": full_name},
            )
    db.upgrade()
    with db.reader() as s:
        assert [f.id for f in household_reads.search_names(s, "Ivanova Yulia")] == [1]
        assert [f.id for f in household_reads.search_names(s, "иванова юлия")] == [1]
        assert [(f.id, f.matched) for f in household_reads.search_names(s, "Shchukina")] == [
            (2, "Щукина Анна")
        ]
        assert [f.id for f in household_reads.search_names(s, "петровы")] == [3]
        assert household_reads.search_names(s, "Shchukina Fyodor") == []
    assert "ix_name_words_word_household" in _index_names(db, "name_words")
