"""deploy/asterisk/extensions.conf, run line by line against the real server on
both backends: each mode reaches the agent, every failure reaches the ordinary
queue, and the advise loop writes each Dial to the ledger, even when the
caller hangs up in the middle of one."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from agi.app import FrontEnd
from agi.fake import fakedialplan
from agi.fake.fakedialplan import SHIPPED, SHIPPED_AGI, Caller, Dialplan
from agi.fake.fakepbx import BUSY, AgentsSpec, Answer, PlannedCall, scripted
from router.storage.db import Database
from router.storage.models import Agent, Attempt
from tests.agency import DIAL, IVANOV_MOBILE, MSK_LINE

StartFront = Callable[..., FrontEnd]

OWNER = DIAL["ivanova"]
LINE = MSK_LINE.removeprefix("+")


def ledger(db: Database, front: FrontEnd) -> list[tuple[str, str, float]]:
    assert front.server.wait_idle(5)
    with db.reader() as s:
        rows = s.execute(
            select(Agent.login, Attempt.status, Attempt.talk_seconds)
            .join(Agent, Agent.id == Attempt.agent_id)
            .order_by(Attempt.id)
        )
        return [(login, status, float(talk)) for login, status, talk in rows]


def claimed(db: Database, front: FrontEnd, login: str) -> bool:
    assert front.server.wait_idle(5)
    with db.reader() as s:
        return s.scalar(select(Agent.claimed_by).where(Agent.login == login)) is not None


def dialplan(front: FrontEnd, owner: Answer | None = None, others: Answer | None = None) -> Dialplan:
    """The shipped dialplan, its AGI address pointing at `front`; agents other than the owner are busy."""
    agents = scripted({OWNER: owner} if owner else {}, others or Answer(BUSY, 0, 0))
    return Dialplan(SHIPPED, {SHIPPED_AGI: front.address}, agents)


def test_dial_mode_owner_answers_and_the_call_ends_without_the_queue(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    run = dialplan(front, Answer(talk_seconds=70)).call(Caller(IVANOV_MOBILE, LINE))
    assert [(script, status) for script, _, status in run.agi] == [("route", "SUCCESS")]
    assert run.agi[0][1] == (LINE,)
    assert run.variables["CALLKEEPER_STATUS"] == "ANSWERED"
    assert run.variables["CALLKEEPER_ROUTE"] == "owner"
    assert not run.queued
    assert ledger(db, front) == [("ivanova", "ANSWER", 70.0)]


def test_dial_mode_nobody_answers_goes_to_the_queue(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    run = dialplan(front).call(Caller(IVANOV_MOBILE, LINE))
    assert run.variables["CALLKEEPER_STATUS"] == "NOANSWER"
    assert run.queued
    assert {status for _, status, _ in ledger(db, front)} == {"BUSY"}


def test_advise_mode_dials_each_target_reports_each_outcome_and_stops_at_the_answer(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front(mode="advise")
    run = dialplan(front, Answer(BUSY, 0, 0), Answer(talk_seconds=40)).call(Caller(IVANOV_MOBILE, LINE))
    decision = run.variables["CALLKEEPER_DECISION"]
    assert run.dials[0] == (OWNER, "BUSY")
    assert run.dials[1][1] == "ANSWER"
    assert [(script, args) for script, args, _ in run.agi] == [
        ("route", (LINE,)),
        ("outcome", (decision, "1")),
        ("outcome", (decision, "2", "answered")),  # Dial's U(), at the answer
        ("outcome", (decision, "2")),
    ]
    assert run.variables["CALLKEEPER_STATUS"] == "ANSWERED"
    assert not run.queued
    rows = ledger(db, front)
    assert rows[0] == ("ivanova", "BUSY", 0.0)
    assert rows[1][1:] == ("ANSWER", 40.0)
    assert len(rows) == 2


def test_advise_mode_caller_hanging_up_while_it_rings_is_reported_from_h(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front(mode="advise")
    run = dialplan(front, Answer(BUSY, 0, 0)).call(Caller(IVANOV_MOBILE, LINE, hang_up_during_dial=1))
    assert run.dials == [(OWNER, "CANCEL")]
    assert [script for script, _, _ in run.agi] == ["route", "outcome"]
    assert not run.queued
    assert ledger(db, front) == [("ivanova", "CANCEL", 0.0)]
    # Nor do the targets the dialplan will now never dial stay claimed.
    assert [login for login in DIAL if claimed(db, front, login)] == []


def test_advise_mode_caller_hanging_up_after_talking_keeps_the_talk_time(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front(mode="advise")
    caller = Caller(IVANOV_MOBILE, LINE, hang_up_after_talk=True)
    run = dialplan(front, Answer(talk_seconds=95)).call(caller)
    assert run.dials == [(OWNER, "ANSWER")]
    assert [script for script, _, _ in run.agi] == ["route", "outcome", "outcome"]
    assert ledger(db, front) == [("ivanova", "ANSWER", 95.0)]


def test_advise_calls_driven_through_the_dialplan_each_free_their_agents(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    """What the advise benchmark does, one call at a time: every call routed, answered and
    recorded, and no agent left claimed. Each call is advised 3 of the 5 agents, so
    without the outcome sessions freeing them the third call would find nobody."""
    front = start_front(mode="advise")
    calls = [PlannedCall(IVANOV_MOBILE if n % 2 else f"+7916555{n:04d}", MSK_LINE) for n in range(20)]
    runs = fakedialplan.drive(front.address, calls, 1, AgentsSpec())
    assert [int(run.variables["CALLKEEPER_COUNT"]) > 0 for run in runs] == [True] * len(calls)
    assert [[args[2:] for _, args, _ in run.agi] for run in runs] == [[(), ("answered",), ()]] * len(calls)
    assert {run.variables["CALLKEEPER_STATUS"] for run in runs} == {"ANSWERED"}
    assert [status for _, status, _ in ledger(db, front)] == ["ANSWER"] * len(calls)
    with db.reader() as s:
        assert s.scalars(select(Agent.login).where(Agent.claimed_by.is_not(None))).all() == []


def test_no_server_listening_goes_to_the_queue_or_to_the_spare(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    alone = Dialplan(SHIPPED, {}, scripted({OWNER: Answer()}))
    run = alone.call(Caller(IVANOV_MOBILE, LINE))
    assert [status for _, _, status in run.agi] == ["FAILURE"]
    assert "CALLKEEPER_STATUS" not in run.variables
    assert run.queued
    spare = Dialplan(SHIPPED, {"10.0.0.2:4573": front.address}, scripted({OWNER: Answer()}))
    run = spare.call(Caller(IVANOV_MOBILE, LINE), pinned={"CK_AGI_SPARE": "agi://10.0.0.2:4573"})
    assert [status for _, _, status in run.agi] == ["FAILURE", "SUCCESS"]
    assert run.variables["CALLKEEPER_STATUS"] == "ANSWERED"
    assert not run.queued


def test_a_server_that_closes_at_once_gives_success_but_the_queue(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    """AGISTATUS=SUCCESS without CALLKEEPER_STATUS: a peer outside allow_peers."""
    front = start_front(allow_peers=("10.1.2.3",))
    run = dialplan(front, Answer()).call(Caller(IVANOV_MOBILE, LINE))
    assert [status for _, _, status in run.agi] == ["SUCCESS"]
    assert "CALLKEEPER_STATUS" not in run.variables
    assert run.queued
    assert ledger(db, front) == []


def test_a_did_delivered_with_plus_or_as_s_reaches_callkeeper(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    """`_X.` alone misses both: trunks send `+7…`, or `s` when they give no DID at all."""
    front = start_front()
    for did in (MSK_LINE, "s"):
        run = dialplan(front, Answer(talk_seconds=10)).call(Caller(IVANOV_MOBILE, did))
        assert (run.variables["CALLKEEPER_STATUS"], run.variables["CALLKEEPER_ROUTE"]) == (
            "ANSWERED",
            "owner",
        )
    assert ledger(db, front) == [("ivanova", "ANSWER", 10.0)] * 2


def test_the_server_address_comes_from_the_global_callkeeper_agi(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    elsewhere = Dialplan(SHIPPED, {"10.0.0.7:4573": front.address}, scripted({OWNER: Answer()}))
    run = elsewhere.call(Caller(IVANOV_MOBILE, LINE), pinned={"CALLKEEPER_AGI": "agi://10.0.0.7:4573"})
    assert [status for _, _, status in run.agi] == ["SUCCESS"]
    assert run.variables["CALLKEEPER_STATUS"] == "ANSWERED"
