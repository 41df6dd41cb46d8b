"""Console users and sessions in the database: argon2id, throttling, timeouts, disable ends sessions.

The sessions live in the database so that any process sees a logout; each
test checks the rows, on both backends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import text

from router.accounts import sessions, users
from router.accounts.sessions import LoggedIn, LoginThrottled, SessionPolicy
from router.directory import offices
from router.errors import Conflict, InvalidInput, NotFound
from router.storage.db import Database, alembic_config, utcnow
from router.storage.models import ConsoleUser
from tests.helpers import run_cli

POLICY = SessionPolicy()
PASSWORD = "correct horse"


@pytest.fixture
def people(db: Database) -> Database:
    with db.unit_of_work() as s:
        offices.add_office(s, "msk", region="RU")
        offices.add_agent(s, "ivanova", office="msk", dial="PJSIP/101")
        users.add_user(s, "anna", role="admin", password=PASSWORD, actor="setup")
        users.add_user(s, "ira", role="manager", password=PASSWORD, agent="ivanova", actor="setup")
    return db


def try_log_in(
    db: Database, login: str, password: str = PASSWORD, address: str = "10.0.0.1", at: datetime | None = None
) -> LoggedIn | None:
    with db.unit_of_work() as s:
        return sessions.log_in(s, login, password, address=address, now=at or utcnow(), policy=POLICY)


def log_in(
    db: Database, login: str, password: str = PASSWORD, address: str = "10.0.0.1", at: datetime | None = None
) -> LoggedIn:
    logged_in = try_log_in(db, login, password, address, at)
    assert logged_in is not None
    return logged_in


def resume(db: Database, token: str, at: datetime | None = None) -> LoggedIn | None:
    with db.unit_of_work() as s:
        return sessions.resume(s, token, now=at or utcnow(), policy=POLICY)


def test_passwords_are_stored_as_argon2id(people: Database) -> None:
    with people.reader() as s:
        stored = s.query(ConsoleUser.password_hash).filter_by(login="anna").scalar()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_add_user_refuses_a_taken_login_a_bad_role_a_short_password_and_an_unknown_agent(
    people: Database,
) -> None:
    for kwargs, error in (
        ({"login": "anna", "role": "admin"}, Conflict),
        ({"login": "bob", "role": "king"}, InvalidInput),
        ({"login": "bob", "role": "admin", "password": "short"}, InvalidInput),
        ({"login": "bob", "role": "manager", "agent": "nobody"}, NotFound),
    ):
        with pytest.raises(error), people.unit_of_work() as s:
            users.add_user(s, **{"password": PASSWORD, "actor": "t", **kwargs})  # type: ignore[arg-type]
    with people.reader() as s:
        assert [u.login for u in users.list_users(s)] == ["anna", "ira"]


def test_a_login_gives_a_new_session_and_logout_ends_it_on_the_server(people: Database) -> None:
    first = log_in(people, "anna")
    second = log_in(people, "anna")
    assert first.token != second.token and first.csrf != second.csrf
    assert first.user.role == "admin"
    assert resume(people, first.token) is not None
    with people.unit_of_work() as s:
        sessions.log_out(s, first.token)
    assert resume(people, first.token) is None
    assert resume(people, second.token) is not None


def test_wrong_password_unknown_login_and_disabled_user_get_the_same_refusal(people: Database) -> None:
    assert try_log_in(people, "anna", "wrong password") is None
    assert try_log_in(people, "nobody") is None
    with people.unit_of_work() as s:
        users.set_disabled(s, "ira", True, actor="anna")
    assert try_log_in(people, "ira") is None


def test_throttling_starts_after_repeated_failures_per_account(people: Database) -> None:
    for _ in range(POLICY.max_account_failures):
        assert try_log_in(people, "anna", "wrong password", address="10.0.0.7") is None
    with pytest.raises(LoginThrottled):
        log_in(people, "anna", address="10.0.0.8")
    log_in(people, "ira", address="10.0.0.8")
    later = utcnow() + POLICY.window + timedelta(seconds=1)
    assert log_in(people, "anna", at=later).user.login == "anna"


def test_throttling_starts_after_repeated_failures_per_address(people: Database) -> None:
    for n in range(POLICY.max_address_failures):
        assert try_log_in(people, f"guess{n}", "wrong password", address="10.9.9.9") is None
    with pytest.raises(LoginThrottled):
        log_in(people, "anna", address="10.9.9.9")
    assert log_in(people, "anna", address="10.0.0.1").user.login == "anna"


def test_sessions_end_after_the_idle_and_the_absolute_timeout(people: Database) -> None:
    start = utcnow()
    idle = log_in(people, "anna", at=start)
    assert resume(people, idle.token, at=start + POLICY.idle + timedelta(seconds=1)) is None
    busy = log_in(people, "anna", at=start)
    at = start
    while at + POLICY.idle / 2 < start + POLICY.absolute:
        at += POLICY.idle / 2
        assert resume(people, busy.token, at=at) is not None
    assert resume(people, busy.token, at=start + POLICY.absolute + timedelta(seconds=1)) is None


def test_disable_ends_the_users_sessions_and_a_new_password_too(people: Database) -> None:
    anna, ira = log_in(people, "anna"), log_in(people, "ira")
    with people.unit_of_work() as s:
        users.set_disabled(s, "ira", True, actor="anna")
    assert resume(people, ira.token) is None
    assert resume(people, anna.token) is not None
    with people.unit_of_work() as s:
        users.set_password(s, "anna", "another secret", actor="anna")
    assert resume(people, anna.token) is None
    assert log_in(people, "anna", "another secret").user.login == "anna"


def test_cli_user_commands_read_the_password_from_stdin_and_audit_the_actor(
    people: Database, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    result = run_cli(capsys, people.url, "user", "add", "sveta", "--role", "supervisor", "--password-stdin")
    assert result.code == 0, result.err
    assert log_in(people, "sveta", "a long password").user.role == "supervisor"
    assert run_cli(capsys, people.url, "user", "disable", "sveta").code == 0
    result = run_cli(capsys, people.url, "user", "list", "--json")
    assert '"disabled": true' in result.out and '"sessions": 0' in result.out
    assert run_cli(capsys, people.url, "user", "enable", "sveta").code == 0
    result = run_cli(capsys, people.url, "audit", "--action", "user-disable", "--json")
    assert '"actor": "tester"' in result.out and '"subject": "sveta"' in result.out
    with pytest.raises(SystemExit) as usage:
        run_cli(capsys, people.url, "user", "add", "x", "--role", "boss", "--password-stdin")
    assert usage.value.code == 2


def test_a_0005_database_with_data_upgrades_to_the_console_tables(db: Database) -> None:
    command.downgrade(alembic_config(db.url), "0005")
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO offices (code, name, strategy, owner_policy, owner_wait_seconds, "
                "attempt_timeout_seconds, wrapup_seconds) VALUES ('msk', 'msk', 'longest-idle', "
                "'backup', 30, 20, 0)"
            )
        )
    db.upgrade()
    with db.unit_of_work() as s:
        assert offices.list_offices(s)[0].code == "msk"
        users.add_user(s, "anna", role="admin", password=PASSWORD, actor="t")
    assert log_in(db, "anna").user.login == "anna"


def test_a_live_session_is_written_back_at_most_once_a_minute(people: Database) -> None:
    start = utcnow()
    anna = log_in(people, "anna", at=start)
    with people.reader() as s:
        found, must_write = sessions.check(s, anna.token, now=start + timedelta(seconds=30), policy=POLICY)
    assert found is not None and not must_write
    with people.reader() as s:
        found, must_write = sessions.check(s, anna.token, now=start + sessions.TOUCH_EVERY, policy=POLICY)
    assert found is not None and must_write
    with people.reader() as s:
        found, must_write = sessions.check(s, anna.token, now=start + POLICY.idle * 2, policy=POLICY)
    assert found is None and must_write
