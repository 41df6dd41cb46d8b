"""The agents board: live state, calls today and the owner hit rate, in the agency's day."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from router.cli.main import main
from router.config import load
from router.directory import offices
from router.errors import ConfigError, ExitCode
from router.routing import agent_board
from router.storage.db import Database
from tests.helpers import run_cli
from tests.routing_helpers import NUMBER, SPOUSE, center, household, new_call, outcome, set_state

MOSCOW = ZoneInfo("Europe/Moscow")


def board(db: Database, now: datetime) -> dict[str, agent_board.AgentOnBoard]:
    with db.reader() as s:
        return {a.login: a for a in agent_board.board(s, now=now, zone=MOSCOW)}


def test_the_board_shows_each_live_state(db: Database) -> None:
    router = center(db, msk=4)
    with db.unit_of_work() as s:
        offices.set_office(s, "msk", wrapup=600)
    set_state(db, "m3", "paused")
    set_state(db, "m4", "offline")
    now = datetime.now(UTC)
    answered = router.decide(new_call("+79035550101", at=now), claim=1)
    router.record(answered.id, 1, outcome(talk=5.0, at=now))
    ringing = router.decide(new_call("+79035550102", at=now), claim=1)
    live = {
        login: a.live for login, a in board(db, now + timedelta(seconds=10)).items() if a.live != "available"
    }
    assert live == {
        answered.plan.attempts[0].agent: "wrap-up",
        ringing.plan.attempts[0].agent: "on-call",
        "m3": "paused",
        "m4": "offline",
    }


def test_the_owner_free_and_answering_counts_as_an_owner_hit(db: Database) -> None:
    router = center(db)
    household(db, "m1", NUMBER)
    now = datetime.now(UTC)
    decision = router.decide(new_call(at=now))
    router.record(decision.id, 1, outcome(at=now))
    m1 = board(db, now)["m1"]
    assert (m1.calls_today, m1.answered_today, m1.owned_calls, m1.owner_free_answered) == (1, 1, 1, 1)
    assert m1.hit_rate == 1.0


def test_a_colleague_covering_for_an_owner_away_is_counted_apart_from_a_miss(db: Database) -> None:
    router = center(db)
    household(db, "m1", NUMBER, SPOUSE)
    now = datetime.now(UTC)
    missed = router.decide(new_call(at=now - timedelta(minutes=10)))  # owner free, rings, no answer
    router.record(missed.id, 1, outcome("NOANSWER", at=now - timedelta(minutes=10)))
    router.record(missed.id, 2, outcome(at=now - timedelta(minutes=9)))
    set_state(db, "m1", "paused")
    away = router.decide(new_call(SPOUSE, at=now))
    router.record(away.id, 1, outcome(at=now))
    m1 = board(db, now)["m1"]
    assert (m1.owned_calls, m1.owner_free_answered, m1.owner_free_missed, m1.owner_away_covered) == (
        2,
        0,
        1,
        1,
    )
    assert m1.hit_rate == 0.0
    assert board(db, now)["m2"].answered_today == 2


def test_today_is_the_agencys_local_day(db: Database) -> None:
    router = center(db)
    household(db, "m1", NUMBER)
    moscow_midnight = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)  # 00:00 on 3 March in Moscow
    before = router.decide(new_call(at=moscow_midnight - timedelta(minutes=5)))
    router.record(before.id, 1, outcome(at=moscow_midnight - timedelta(minutes=5)))
    after = router.decide(new_call(at=moscow_midnight + timedelta(minutes=5)))
    router.record(after.id, 1, outcome(at=moscow_midnight + timedelta(minutes=5)))
    assert board(db, moscow_midnight + timedelta(hours=1))["m1"].calls_today == 1


def test_agent_board_cli_prints_json(db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    center(db)
    result = run_cli(capsys, db.url, "agent", "board", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert {r["login"] for r in rows} == {"m1", "m2", "s1"}
    assert set(rows[0]) >= {"live", "calls_today", "answered_today", "owner_hit_rate", "owned_calls"}


def test_an_unknown_timezone_is_a_config_error_exit_7(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        load(environ={"CALLKEEPER_TIMEZONE": "Mars/Olympus"})
    assert load(environ={}).timezone == "Europe/Moscow"


def test_since_today_works_in_every_command_with_since(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    router = center(db)
    household(db, "m1", NUMBER)
    router.decide(new_call(at=datetime.now(UTC)))
    router.decide(new_call(at=datetime.now(UTC) - timedelta(days=3)))
    for argv in (("ledger", "--json"), ("splits",), ("booking", "list"), ("timeline", NUMBER)):
        result = run_cli(capsys, db.url, *argv, "--since", "today")
        assert result.code == 0, (argv, result.err)
    ledger = json.loads(run_cli(capsys, db.url, "ledger", "--json", "--since", "yesterday").out)
    assert len(ledger) == 1
    with pytest.raises(SystemExit) as refused:
        main(["--db", db.url, "ledger", "--since", "someday"])
    assert refused.value.code == ExitCode.USAGE and "someday" in capsys.readouterr().err
