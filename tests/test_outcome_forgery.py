"""Nobody can forge an outcome: the `outcome` script writes the ledger only for
a call this server advised, for an attempt it planned, once, from the PBX that
made the call, while that call can still be dialling; never in dial mode.
End to end through the real server over TCP, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from agi.app import FrontEnd
from agi.fake.fakepbx import Answer, CallRecord, FakePbx, scripted
from router.routing import outcome_check
from router.storage.db import Database
from router.storage.models import Attempt, Decision
from tests.agency import IVANOV_MOBILE, IVANOV_SPOUSE
from tests.test_agi_calls import attempts
from tests.test_metrics_endpoint import change, scrape

StartFront = Callable[..., FrontEnd]
UID = "1795807259.80"
ANSWERED = {"DIALSTATUS": "ANSWER", "ANSWEREDTIME": "600", "DIALEDTIME": "604"}


def _advised(front: FrontEnd, pbx: FakePbx) -> CallRecord:
    advised = pbx.call(IVANOV_SPOUSE, args=["spb"], uid=UID)
    assert advised.status == "ADVISED"
    return advised


def _outcome(pbx: FakePbx, advised: CallRecord, uid: str = UID, target: str = "1") -> CallRecord:
    decision = advised.variables["CALLKEEPER_DECISION"]
    return pbx.call(
        IVANOV_SPOUSE,
        script="outcome",
        args=[decision, target],
        variables={**advised.variables, **ANSWERED},
        uid=uid,
    )


def test_an_outcome_for_a_call_this_server_did_not_advise_is_refused(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front(mode="advise")
    pbx = FakePbx(*front.address)
    advised = _advised(front, pbx)
    before = scrape(front)
    forged = _outcome(pbx, advised, uid="1795807259.99")  # another channel's session
    assert attempts(db, front) == []
    assert change(before, scrape(front))("callkeeper_outcome_refused_total", reason="other_call") == 1
    assert forged.agistatus == "SUCCESS"  # the forger's dialplan learns nothing


def test_an_outcome_from_another_pbx_is_refused(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front(mode="advise")
    advised = _advised(front, FakePbx(*front.address, source="127.0.0.1"))
    _outcome(FakePbx(*front.address, source="127.0.0.2"), advised)
    assert attempts(db, front) == []


def test_an_outcome_is_accepted_once(db: Database, agency: dict[str, int], start_front: StartFront) -> None:
    front = start_front(mode="advise")
    pbx = FakePbx(*front.address)
    advised = _advised(front, pbx)
    assert _outcome(pbx, advised).status == "ANSWERED"
    before = scrape(front)
    _outcome(pbx, advised)
    assert attempts(db, front) == [("ivanova", "ANSWER")]
    assert change(before, scrape(front))("callkeeper_outcome_refused_total", reason="recorded") == 1


def test_an_outcome_for_an_attempt_the_server_did_not_plan_is_refused(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front(mode="advise")
    pbx = FakePbx(*front.address)
    advised = _advised(front, pbx)
    before = scrape(front)
    _outcome(pbx, advised, target="9")
    assert attempts(db, front) == []
    assert change(before, scrape(front))("callkeeper_outcome_refused_total", reason="not_planned") == 1


def test_the_outcome_script_is_refused_in_dial_mode(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    pbx = FakePbx(*front.address, scripted({}, Answer(talk_seconds=10)))
    dialled = pbx.call(IVANOV_MOBILE, args=["msk"], uid=UID)
    assert dialled.status == "ANSWERED"
    before = scrape(front)
    decision = dialled.variables["CALLKEEPER_DECISION"]
    pbx.call(IVANOV_MOBILE, script="outcome", args=[decision, "2"], variables=ANSWERED, uid=UID)
    assert attempts(db, front) == [("ivanova", "ANSWER")]
    assert change(before, scrape(front))("callkeeper_outcome_refused_total", reason="dial_mode") == 1


def test_refused_outcomes_are_logged_once_and_all_counted(
    db: Database, agency: dict[str, int], start_front: StartFront, caplog: pytest.LogCaptureFixture
) -> None:
    front = start_front(mode="advise")
    pbx = FakePbx(*front.address)
    advised = _advised(front, pbx)
    before = scrape(front)
    with caplog.at_level(logging.WARNING, logger="agi.outcome_gate"):
        for n in range(5):
            _outcome(pbx, advised, uid=f"1795807259.9{n}")
        assert front.server.wait_idle(5)
    assert len([r for r in caplog.records if "outcome refused" in r.getMessage()]) == 1
    assert change(before, scrape(front))("callkeeper_outcome_refused_total", reason="other_call") == 5


def test_an_outcome_of_a_call_long_over_is_refused(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front(mode="advise")
    _advised(front, FakePbx(*front.address))
    with db.engine.connect() as connection:
        decision_id, decided_at = connection.execute(select(Decision.id, Decision.at)).one()

        def check(now_after_decision: timedelta, dialed: float) -> str | None:
            return outcome_check.refusal(
                connection,
                decision_id=decision_id,
                seq=1,
                call_uid=f"127.0.0.1/{UID}",
                now=decided_at + now_after_decision,
                dialed_seconds=dialed,
                claim_cap_seconds=300,
            )

        # A Dial that began within the first target's claim, however long it talked, is the call's.
        assert check(timedelta(hours=2), dialed=2 * 3600 - 3) is None
        # One that began a day after the decision is an outcome of a call long over.
        assert check(timedelta(days=1), dialed=30) == "too_late"
        assert check(timedelta(seconds=10), dialed=0) is None
    with db.reader() as s:
        assert s.scalars(select(Attempt)).all() == []
