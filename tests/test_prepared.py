"""Call-path statements run on the driver's cursor behave as SQLAlchemy's own execution would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from router.storage.db import Database
from router.storage.models import Agent, Household, PhoneNumber
from router.storage.prepared import Prepared
from tests.routing_helpers import center

_STATE_CHANGED = Prepared(
    select(Agent.state_changed_at, Agent.calls_day).where(Agent.login == bindparam("login"))
)
_SET_STATE_CHANGED = Prepared(
    update(Agent)
    .where(Agent.login == bindparam("login"))
    .values(state_changed_at=bindparam("at"), calls_day=bindparam("day"))
)


def test_timestamps_go_in_as_utc_and_come_back_aware(db: Database) -> None:
    center(db)
    moscow = timezone(timedelta(hours=3))
    at = datetime(2026, 11, 28, 12, 30, 15, 250_000, tzinfo=moscow)
    with db.transaction() as connection:
        assert _SET_STATE_CHANGED.rowcount(connection, {"login": "m1", "at": at, "day": at.date()}) == 1
    with db.read_transaction() as connection:
        stored, day = _STATE_CHANGED.first(connection, {"login": "m1"}) or (None, None)
    assert stored == at
    assert stored.tzinfo is not None and stored.utcoffset() == timedelta(0)
    assert day == at.date()
    with db.reader() as s:  # and SQLAlchemy's own path reads what the driver wrote
        assert s.scalar(select(Agent.state_changed_at).where(Agent.login == "m1")) == at


def test_a_missing_row_is_none(db: Database) -> None:
    center(db)
    with db.read_transaction() as connection:
        assert _STATE_CHANGED.first(connection, {"login": "nobody"}) is None
        assert _STATE_CHANGED.scalar(connection, {"login": "nobody"}) is None
        assert _STATE_CHANGED.rows(connection, {"login": "nobody"}) == []


def test_insert_without_its_defaulted_columns_is_refused(db: Database) -> None:
    bare = Prepared(insert(Household).returning(Household.id), columns=("owner_id",))
    with db.transaction() as connection, pytest.raises(ValueError, match="has no value"):
        bare.scalar(connection, {"owner_id": None})


def test_driver_error_comes_out_as_sqlalchemys_and_rolls_back(db: Database) -> None:
    center(db)
    link = Prepared(insert(PhoneNumber), columns=("number", "household_id", "label"))
    household = Prepared(
        insert(Household).returning(Household.id),
        columns=("name", "owner_id", "email", "address", "origin", "created_at", "last_contact_at"),
    )
    values = {"name": "", "owner_id": None, "email": "", "address": "", "origin": "admin"}
    values |= {"created_at": datetime.now(UTC), "last_contact_at": None}
    with pytest.raises(IntegrityError), db.transaction() as connection:
        hid = household.scalar(connection, values)
        link.rowcount(connection, {"number": "+79160000001", "household_id": hid, "label": "mobile"})
        link.rowcount(connection, {"number": "+79160000001", "household_id": hid, "label": "work"})
    with db.reader() as s:
        assert s.scalars(select(PhoneNumber.number)).all() == []
        assert s.scalars(select(Household.id)).all() == []
