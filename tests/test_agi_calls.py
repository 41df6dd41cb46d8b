"""The real FastAGI server, driven over TCP by the fake Asterisk, through every
situation of the recorded transcripts; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from agi.app import FrontEnd
from agi.fake.fakepbx import (
    BUSY,
    CHANUNAVAIL,
    CONGESTION,
    NOANSWER,
    Answer,
    CallerHangup,
    FakePbx,
    scripted,
)
from router.routing import ledger
from router.storage.db import Database
from router.storage.models import Agent, Attempt, PhoneNumber
from tests.agency import DIAL, IVANOV_MOBILE, IVANOV_SPOUSE, MSK_LINE, SPB_LINE

StartFront = Callable[..., FrontEnd]


def attempts(db: Database, front: FrontEnd) -> list[tuple[str, str]]:
    """The ledger's attempts, once the server has finished every session."""
    assert front.server.wait_idle(5)
    with db.reader() as s:
        rows = s.execute(
            select(Agent.login, Attempt.status).join(Agent, Agent.id == Attempt.agent_id).order_by(Attempt.id)
        )
        return [(login, status) for login, status in rows]


def claims_held(db: Database, front: FrontEnd) -> int:
    assert front.server.wait_idle(5)
    with db.reader() as s:
        return s.scalar(select(func.count()).select_from(Agent).where(Agent.claimed_by.is_not(None))) or 0


def test_owner_answers_from_the_other_offices_line(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    pbx = FakePbx(*front.address, scripted({}, Answer(talk_seconds=95)))
    record = pbx.call("8 916 765-43-21", dnid=SPB_LINE)
    assert record.agistatus == "SUCCESS"
    assert record.status == "ANSWERED"
    assert record.variables["CALLKEEPER_ROUTE"] == "owner"
    assert record.dials == [(DIAL["ivanova"], 20, "ANSWER")]
    assert attempts(db, front) == [("ivanova", "ANSWER")]
    assert claims_held(db, front) == 0


@pytest.mark.parametrize("kind", [BUSY, NOANSWER, CONGESTION, CHANUNAVAIL])
def test_owner_not_answering_moves_to_next_attempt(
    kind: str, db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    pbx = FakePbx(*front.address, scripted({DIAL["ivanova"]: Answer(kind, 3, 0)}, Answer()))
    record = pbx.call(IVANOV_MOBILE, args=["msk"])
    assert record.status == "ANSWERED"
    assert record.dials[0] == (DIAL["ivanova"], 20, kind)
    assert len(record.dials) == 2
    assert attempts(db, front)[0] == ("ivanova", kind)
    assert attempts(db, front)[1][1] == "ANSWER"
    assert claims_held(db, front) == 0


def test_nobody_answers_sets_noanswer_and_dialplan_falls_back(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    pbx = FakePbx(*front.address, scripted({}, Answer(NOANSWER)))
    record = pbx.call("+79990000001", args=["msk"])
    assert record.status == "NOANSWER"
    assert {d[2] for d in record.dials} == {"NOANSWER"}
    assert len(record.dials) == len(DIAL)
    assert claims_held(db, front) == 0


def test_first_answered_call_from_new_number_creates_household(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    pbx = FakePbx(*front.address, scripted({}, Answer()))
    record = pbx.call("+79990000002", script="route?line=spb")
    assert record.status == "ANSWERED"
    with db.reader() as s:
        linked = s.scalar(select(PhoneNumber).where(PhoneNumber.number == "+79990000002"))
        assert linked is not None
        owner = s.scalar(select(Agent.login).where(Agent.id == linked.household.owner_id))
    assert owner == attempts(db, front)[-1][0]


def test_caller_hangs_up_during_dial_records_cancel_and_releases_claim(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    pbx = FakePbx(*front.address, scripted({}, Answer()))
    record = pbx.call(IVANOV_MOBILE, args=["msk"], hangup=CallerHangup(during_dial=1))
    assert record.agistatus == "HANGUP"
    assert record.dials == [(DIAL["ivanova"], 20, "CANCEL")]
    # Asterisk's HANGUP line came between the next command and its reply, as recorded.
    wire = [line for _, line in record.transcript]
    hangup_at = wire.index("HANGUP")
    assert wire[hangup_at - 1].startswith("GET FULL VARIABLE") and wire[hangup_at + 1].startswith(
        "200 result=1"
    )
    assert attempts(db, front) == [("ivanova", "CANCEL")]
    assert claims_held(db, front) == 0
    assert "CALLKEEPER_STATUS" not in record.variables


def test_caller_hangs_up_while_server_is_idle_rings_nobody(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    pbx = FakePbx(*front.address, scripted({}, Answer()))
    record = pbx.call(IVANOV_MOBILE, args=["msk"], hangup=CallerHangup(while_idle=True))
    assert record.agistatus == "HANGUP"
    assert record.dials == []
    # Nobody rang either way. If the HANGUP line reached the server with the
    # environment, no Dial was sent and no attempt started; if it came just after,
    # the Dial was sent, its attempt started, and ended at once by the hang-up.
    assert attempts(db, front) in ([], [("ivanova", "HANGUP")])
    assert claims_held(db, front) == 0


def test_agisighup_no_hangup_during_dial_is_seen_as_cancel(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    pbx = FakePbx(*front.address, scripted({}, Answer()), sighup=False)
    record = pbx.call(IVANOV_MOBILE, args=["msk"], hangup=CallerHangup(during_dial=1))
    assert "HANGUP" not in [line for _, line in record.transcript]
    assert record.dials == [(DIAL["ivanova"], 20, "CANCEL")]
    assert attempts(db, front) == [("ivanova", "CANCEL")]
    assert claims_held(db, front) == 0


def test_agiexitonhangup_closed_socket_records_caller_hangup(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    pbx = FakePbx(*front.address, scripted({}, Answer()), exit_on_hangup=True)
    record = pbx.call(IVANOV_MOBILE, args=["msk"], hangup=CallerHangup(during_dial=1))
    assert record.agistatus == "HANGUP"
    assert attempts(db, front) == [("ivanova", "HANGUP")]
    assert claims_held(db, front) == 0


def test_unknown_script_name_fails_open(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    record = FakePbx(*front.address).call(IVANOV_MOBILE, script="no-such-script")
    assert record.agistatus == "SUCCESS"
    assert record.status == "FAILED"
    assert record.dials == []


def test_anonymous_caller_goes_to_the_line_office_pool(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    record = FakePbx(*front.address, scripted({}, Answer())).call("unknown", dnid=MSK_LINE)
    assert record.status == "ANSWERED"
    assert record.variables["CALLKEEPER_ROUTE"] == "office-pool"
    assert record.dials[0][0] in {DIAL["ivanova"], DIAL["orlov"], DIAL["kim"]}
    with db.reader() as s:
        assert s.scalar(select(func.count()).select_from(PhoneNumber)) == 3  # no household for anonymous


def test_advise_mode_hands_targets_to_dialplan_and_outcome_records(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front(mode="advise")
    pbx = FakePbx(*front.address)
    advised_uid = "1795807259.70"  # the channel's: its outcome session comes with the same
    advised = pbx.call(IVANOV_SPOUSE, args=["spb"], uid=advised_uid)
    assert advised.status == "ADVISED"
    count = int(advised.variables["CALLKEEPER_COUNT"])
    assert count >= 1
    assert advised.variables["CALLKEEPER_TARGET_1"] == DIAL["ivanova"]
    assert advised.variables["CALLKEEPER_TIMEOUT_1"] == "20"
    assert advised.dials == []
    decision = advised.variables["CALLKEEPER_DECISION"]
    # The dialplan dialled target 1 itself, 50 s ago by Asterisk's clock, and reports back.
    outcome_vars = {
        **advised.variables,
        "DIALSTATUS": "ANSWER",
        "ANSWEREDTIME_MS": "42000",
        "CK_DIAL_AT": f"{time.time() - 50:.3f}",
    }
    reported = pbx.call(
        IVANOV_SPOUSE, script="outcome", args=[decision, "1"], variables=outcome_vars, uid=advised_uid
    )
    assert reported.status == "ANSWERED"
    assert attempts(db, front) == [("ivanova", "ANSWER")]
    with db.reader() as s:
        row = s.scalar(select(Attempt))
        assert row is not None and row.talk_seconds == 42 and round(row.ring_seconds) == 8
        assert [entry.answered_by for entry in ledger.entries(s)] == ["ivanova"]
    # Target 1 answered: the other advised agents are free again.
    assert claims_held(db, front) == 0


def test_long_call_keeps_its_agent_claimed_while_talking(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    # Claims last at most 1 s here; the call talks for 3 s of real time.
    front = start_front(claim_ttl_seconds=1)
    pbx = FakePbx(*front.address, scripted({}, Answer(ring_seconds=0, talk_seconds=100)), time_scale=0.03)
    result: dict[str, str | None] = {}
    call = threading.Thread(target=lambda: result.update(status=pbx.call(IVANOV_MOBILE, args=["msk"]).status))
    call.start()
    time.sleep(0.5)
    assert front.flow.live_calls()
    front.heartbeat()
    time.sleep(1.5)
    with db.reader() as s:
        ivanova = s.scalar(select(Agent).where(Agent.login == "ivanova"))
        assert ivanova is not None and ivanova.claimed_by is not None
        assert ivanova.claim_expires_at is not None and ivanova.claim_expires_at > datetime.now(UTC)
    call.join(10)
    assert result["status"] == "ANSWERED"
    assert front.flow.live_calls() == []
    assert claims_held(db, front) == 0


def test_advise_mode_gives_no_more_ring_time_than_the_ring_budget(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    """Targets' timeouts add up to `ring_budget_seconds`; one beyond it is neither given nor held."""
    front = start_front(mode="advise", ring_budget_seconds=25)
    advised = FakePbx(*front.address).call(IVANOV_MOBILE, args=["msk"])
    assert advised.status == "ADVISED"
    assert advised.variables["CALLKEEPER_COUNT"] == "2"
    assert [advised.variables[f"CALLKEEPER_TIMEOUT_{n}"] for n in (1, 2)] == ["20", "5"]
    assert claims_held(db, front) == 2


def test_outcome_sessions_log_the_callers_number_not_anonymous(
    db: Database, agency: dict[str, int], start_front: StartFront, caplog: pytest.LogCaptureFixture
) -> None:
    front = start_front(mode="advise")
    pbx = FakePbx(*front.address)
    uid = "1795807259.71"  # the channel's: its outcome session comes with the same
    advised = pbx.call(IVANOV_SPOUSE, args=["spb"], uid=uid)
    decision = advised.variables["CALLKEEPER_DECISION"]
    with caplog.at_level("INFO", logger="callkeeper.calls"):
        busy = {**advised.variables, "DIALSTATUS": "BUSY"}
        pbx.call(IVANOV_SPOUSE, script="outcome", args=[decision, "1"], variables=busy, uid=uid)
        give_up = time.monotonic() + 5
        while not _outcome_lines(caplog) and time.monotonic() < give_up:
            time.sleep(0.02)
    [line] = _outcome_lines(caplog)
    assert f"number=+*******{IVANOV_SPOUSE[-4:]}" in line


def _outcome_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "script=outcome" in r.getMessage()]


def test_the_variables_the_dialplan_reads_after_the_call_come_in_one_command(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    """Every AGI command is a round trip for both sides: after the Dial, one MSet, not a SET each."""
    front = start_front()
    pbx = FakePbx(*front.address, scripted({}, Answer()))
    record = pbx.call(IVANOV_MOBILE, args=["msk"])
    commands = [line.split(" ", 2)[:2] for way, line in record.transcript if way == "<<"]
    assert commands == [["EXEC", "Dial"], ["GET", "FULL"], ["EXEC", "MSet"]]
    assert (record.variables["CALLKEEPER_STATUS"], record.variables["CALLKEEPER_ROUTE"]) == (
        "ANSWERED",
        "owner",
    )
    assert record.variables["CALLKEEPER_DECISION"].isdigit()
