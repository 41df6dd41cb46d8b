"""End to end through a real Asterisk 22 (tests/real_asterisk.py) and the
shipped deploy/asterisk/extensions.conf, unchanged, in both modes, on both
backends: what the README promises about Asterisk, proven on the real one.

Agents are Local channels into a test context told per test how to behave;
the caller is a Local channel too. Talk times are 1-2 s, attempt timeouts
2 s, so one test is a few seconds.
"""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from agi.app import FrontEnd
from router.directory import households
from router.storage.db import Database
from router.storage.models import Agent, Attempt, Decision, Office
from tests.agency import DIAL, IVANOV_MOBILE, IVANOV_SPOUSE, MSK_LINE
from tests.real_asterisk import SYSTEMNAME, RealAsterisk
from tests.test_serve_process import serve_process

pytestmark = pytest.mark.slow
StartFront = Callable[..., FrontEnd]
LINE = MSK_LINE.removeprefix("+")
NEW_CALLER = "+79990001122"
COLLEAGUES = ("orlov", "kim")
ATTEMPT_TIMEOUT = 2
# The decision's deadline where it is not what a test is about: the machine is
# shared, and a decision late by its 300 ms fails open (to the queue) as it should.
PATIENT = 5000


@pytest.fixture
def agents_on_asterisk(db: Database, agency: dict[str, int]) -> dict[str, int]:
    """The agency, its agents reachable as Local/LOGIN@ck-agents, each rung 2 s at most."""
    with db.unit_of_work() as s:
        for login in DIAL:
            s.execute(update(Agent).where(Agent.login == login).values(dial=f"Local/{login}@ck-agents"))
        s.execute(update(Office).values(attempt_timeout_seconds=ATTEMPT_TIMEOUT))
    return agency


@pytest.fixture(params=["dial", "advise"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def front(mode: str, start_front: StartFront, real_asterisk: RealAsterisk) -> FrontEnd:
    """Callkeeper in `mode`, the real Asterisk's dialplan pointed at it."""
    front = start_front(mode=mode, decision_deadline_ms=PATIENT)
    host, port = front.address
    real_asterisk.set_global("CALLKEEPER_AGI", f"agi://{host}:{port}")
    return front


Row = tuple[str, str, float, float, str | None]


def ledger(db: Database, front: FrontEnd | None = None) -> list[Row]:
    """(agent, status, ring, talk, covering for) of every attempt, in order."""
    if front is not None:
        assert front.server.wait_idle(10)
    covered = aliased(Agent)
    with db.reader() as s:
        rows = s.execute(
            select(Agent.login, Attempt.status, Attempt.ring_seconds, Attempt.talk_seconds, covered.login)
            .join(Agent, Agent.id == Attempt.agent_id)
            .outerjoin(covered, covered.id == Attempt.covering_for_id)
            .order_by(Attempt.id)
        )
        return [(a, st, float(r), float(t), c) for a, st, r, t, c in rows]


def claimed(db: Database) -> list[str]:
    with db.reader() as s:
        return list(s.scalars(select(Agent.login).where(Agent.claimed_by.is_not(None))))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_owner_answers_and_the_queue_is_not_used(
    db: Database, agents_on_asterisk: dict[str, int], front: FrontEnd, real_asterisk: RealAsterisk
) -> None:
    queued = real_asterisk.queue_connects()
    result = real_asterisk.result(real_asterisk.call(IVANOV_MOBILE, LINE))
    assert (result["STATUS"], result["ROUTE"], result["DIALSTATUS"]) == ("ANSWERED", "owner", "ANSWER")
    assert [row[:2] for row in ledger(db, front)] == [("ivanova", "ANSWER")]
    assert real_asterisk.queue_connects() == queued


def test_the_ledgers_call_id_carries_the_pbxs_systemname(
    db: Database, agents_on_asterisk: dict[str, int], front: FrontEnd, real_asterisk: RealAsterisk
) -> None:
    """With `systemname` set in asterisk.conf, each PBX's calls are told apart in the ledger."""
    assert real_asterisk.result(real_asterisk.call(IVANOV_MOBILE, LINE))["STATUS"] == "ANSWERED"
    assert front.server.wait_idle(10)
    with db.reader() as s:
        uids = list(s.scalars(select(Decision.call_uid)))
    # The call id is the PBX's address, then Asterisk's unique id, which carries the systemname.
    assert [uid.partition("/")[0] for uid in uids] == ["127.0.0.1"]
    assert [uid.partition("/")[2].rpartition("-")[0] for uid in uids] == [SYSTEMNAME]


def test_owner_busy_a_colleague_covers_for_the_owner(
    db: Database, agents_on_asterisk: dict[str, int], front: FrontEnd, real_asterisk: RealAsterisk
) -> None:
    real_asterisk.agent("ivanova", "busy")
    result = real_asterisk.result(real_asterisk.call(IVANOV_MOBILE, LINE))
    assert result["STATUS"] == "ANSWERED"
    rows = ledger(db, front)
    assert [(agent, status) for agent, status, *_ in rows][:1] == [("ivanova", "BUSY")]
    assert [(status, covering) for _, status, _, _, covering in rows[1:]] == [("ANSWER", "ivanova")]
    assert rows[1][0] in COLLEAGUES


def test_equal_co_owners_ring_at_once_and_the_ledger_shows_who_answered(
    db: Database, agents_on_asterisk: dict[str, int], front: FrontEnd, real_asterisk: RealAsterisk
) -> None:
    """One Dial of Local/ivanova@ck-agents&Local/orlov@ck-agents: orlov answers, DIALEDPEERNAME
    names his channel, the ledger has his answer and ivanova rung with him, freed, not covering."""
    with db.unit_of_work() as s:
        households.set_owners(
            s, agents_on_asterisk["ivanov"], ["ivanova", "orlov"], mode="equal", reason="a pair", actor="t"
        )
    real_asterisk.agent("ivanova", "noanswer")
    real_asterisk.agent("orlov", "answer:0:1")
    result = real_asterisk.result(real_asterisk.call(IVANOV_MOBILE, LINE))
    assert (result["STATUS"], result["ROUTE"], result["DIALSTATUS"]) == ("ANSWERED", "owner", "ANSWER")
    rows = ledger(db, front)
    assert [(agent, status, covering) for agent, status, _, _, covering in rows] == [
        ("ivanova", "NOANSWER", None),
        ("orlov", "ANSWER", None),
    ]
    # Rung together: ivanova stopped ringing when orlov answered, well before her timeout.
    assert rows[0][2] < ATTEMPT_TIMEOUT
    with db.reader() as s:
        started = set(s.scalars(select(Attempt.started_at)))
    assert len(started) == 1
    assert claimed(db) == []


def test_no_answer_then_the_next_agent_with_each_ring_time_its_own(
    db: Database, agents_on_asterisk: dict[str, int], front: FrontEnd, real_asterisk: RealAsterisk
) -> None:
    """The NOANSWER rang the whole attempt timeout; the answer after it rang at once
    (Asterisk's DIALEDTIME, the caller channel's age, would give it the first's ring)."""
    real_asterisk.agent("ivanova", "noanswer")
    result = real_asterisk.result(real_asterisk.call(IVANOV_MOBILE, LINE))
    assert result["STATUS"] == "ANSWERED"
    rows = ledger(db, front)
    assert [(agent, status) for agent, status, *_ in rows][:1] == [("ivanova", "NOANSWER")]
    assert rows[1][1] == "ANSWER" and rows[1][0] in COLLEAGUES
    noanswer_ring, answer_ring = rows[0][2], rows[1][2]
    assert noanswer_ring >= ATTEMPT_TIMEOUT - 0.1
    assert answer_ring < noanswer_ring


def test_a_new_caller_becomes_the_answering_agents(
    db: Database, agents_on_asterisk: dict[str, int], front: FrontEnd, real_asterisk: RealAsterisk
) -> None:
    first = real_asterisk.result(real_asterisk.call(NEW_CALLER, LINE))
    assert first["STATUS"] == "ANSWERED"
    assert real_asterisk.idle()
    answered_by = ledger(db, front)[0][0]
    again = real_asterisk.result(real_asterisk.call(NEW_CALLER, LINE))
    assert again["ROUTE"] == "owner"
    assert [row[:2] for row in ledger(db, front)[1:]] == [(answered_by, "ANSWER")]


def test_the_spouses_linked_number_reaches_the_owner(
    db: Database, agents_on_asterisk: dict[str, int], front: FrontEnd, real_asterisk: RealAsterisk
) -> None:
    result = real_asterisk.result(real_asterisk.call(IVANOV_SPOUSE, LINE))
    assert (result["STATUS"], result["ROUTE"]) == ("ANSWERED", "owner")
    assert [row[:2] for row in ledger(db, front)] == [("ivanova", "ANSWER")]


def test_everyone_busy_the_sales_queue_answers(
    db: Database, agents_on_asterisk: dict[str, int], front: FrontEnd, real_asterisk: RealAsterisk
) -> None:
    for login in DIAL:
        real_asterisk.agent(login, "busy")
    queued = real_asterisk.queue_connects()
    result = real_asterisk.result(real_asterisk.call(IVANOV_MOBILE, LINE))
    assert result["STATUS"] in ("NOANSWER", "ADVISED")
    assert real_asterisk.queue_connects() == queued + 1
    rows = ledger(db, front)
    assert rows and {status for _, status, *_ in rows} == {"BUSY"}
    assert claimed(db) == []


def test_caller_hangs_up_while_an_agent_rings_and_the_agent_is_free_for_the_next_call(
    db: Database, agents_on_asterisk: dict[str, int], front: FrontEnd, real_asterisk: RealAsterisk
) -> None:
    with db.unit_of_work() as s:
        s.execute(update(Office).values(attempt_timeout_seconds=20))
    real_asterisk.agent("ivanova", "noanswer")
    result = real_asterisk.result(real_asterisk.call(IVANOV_MOBILE, LINE, hang_up_after=1))
    assert result["STATUS"] != "ANSWERED"
    assert [row[:2] for row in ledger(db, front)] == [("ivanova", "CANCEL")]
    assert claimed(db) == []
    assert real_asterisk.idle()
    real_asterisk.agent("ivanova", "answer:0:1")
    again = real_asterisk.result(real_asterisk.call(IVANOV_MOBILE, LINE))
    assert again["STATUS"] == "ANSWERED"
    assert [row[:2] for row in ledger(db, front)[1:]] == [("ivanova", "ANSWER")]


def test_no_server_listening_sends_the_call_to_the_queue_at_once(real_asterisk: RealAsterisk) -> None:
    real_asterisk.set_global("CALLKEEPER_AGI", f"agi://127.0.0.1:{free_port()}")
    queued = real_asterisk.queue_connects()
    result = real_asterisk.result(real_asterisk.call(IVANOV_MOBILE, LINE))
    assert (result["AGISTATUS"], result["STATUS"]) == ("FAILURE", "")
    assert real_asterisk.queue_connects() == queued + 1


def test_database_unusable_fails_open_to_the_queue(
    db_url: str,
    agents_on_asterisk: dict[str, int],
    mode: str,
    start_front: StartFront,
    real_asterisk: RealAsterisk,
) -> None:
    """A database that does not answer: CALLKEEPER_STATUS=FAILED after the deadline, then the queue."""
    front = start_front(mode=mode, decision_deadline_ms=300)
    host, port = front.address
    real_asterisk.set_global("CALLKEEPER_AGI", f"agi://{host}:{port}")
    queued = real_asterisk.queue_connects()
    with locked(db_url):
        result = real_asterisk.result(real_asterisk.call(IVANOV_MOBILE, LINE))
    assert (result["AGISTATUS"], result["STATUS"]) == ("SUCCESS", "FAILED")
    assert real_asterisk.queue_connects() == queued + 1


@contextlib.contextmanager
def locked(db_url: str) -> Iterator[None]:
    """The ledger locked against every writer from outside, for the duration."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        import sqlite3

        conn = sqlite3.connect(str(url.database), isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.close()
        return
    engine = create_engine(db_url)
    try:
        with engine.connect() as pg:
            pg.execute(text("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE"))
            pg.execute(text("LOCK TABLE agents IN ACCESS EXCLUSIVE MODE"))
            yield
            pg.rollback()
    finally:
        engine.dispose()


def test_the_ledgers_talk_time_is_what_asterisk_reported(
    db: Database, agents_on_asterisk: dict[str, int], front: FrontEnd, real_asterisk: RealAsterisk
) -> None:
    real_asterisk.agent("ivanova", "answer:1:2")
    result = real_asterisk.result(real_asterisk.call(IVANOV_MOBILE, LINE))
    [(agent, status, ring, talk, _)] = ledger(db, front)
    assert (agent, status) == ("ivanova", "ANSWER")
    assert talk == int(result["ANSWEREDTIME_MS"]) / 1000
    assert ring > 0.5  # the agent answered after ringing 1 s


def test_the_ring_budget_caps_the_whole_ring_time_then_the_queue(
    db: Database,
    agents_on_asterisk: dict[str, int],
    mode: str,
    start_front: StartFront,
    real_asterisk: RealAsterisk,
) -> None:
    """Nobody answers and the 4 s budget is spent after two 2 s attempts: the queue, not agent 3."""
    front = start_front(mode=mode, ring_budget_seconds=4, decision_deadline_ms=PATIENT)
    host, port = front.address
    real_asterisk.set_global("CALLKEEPER_AGI", f"agi://{host}:{port}")
    for login in DIAL:
        real_asterisk.agent(login, "noanswer")
    queued = real_asterisk.queue_connects()
    result = real_asterisk.result(real_asterisk.call(IVANOV_MOBILE, LINE))
    assert result["STATUS"] != "ANSWERED"
    assert real_asterisk.queue_connects() == queued + 1
    assert [status for _, status, *_ in ledger(db, front)] == ["NOANSWER", "NOANSWER"]
    assert claimed(db) == []


def test_advised_agents_are_free_while_the_answered_call_talks(
    db: Database, agents_on_asterisk: dict[str, int], start_front: StartFront, real_asterisk: RealAsterisk
) -> None:
    """Advise mode: the others advised for a call are freed when one answers, not when the call ends."""
    front = start_front(mode="advise", decision_deadline_ms=PATIENT)
    host, port = front.address
    real_asterisk.set_global("CALLKEEPER_AGI", f"agi://{host}:{port}")
    real_asterisk.agent("ivanova", "answer:0:3")
    tag = real_asterisk.call(IVANOV_MOBILE, LINE)
    assert wait_until(lambda: claimed(db) == ["ivanova"], 3), claimed(db)
    assert real_asterisk.result(tag)["STATUS"] == "ANSWERED"
    assert [row[:2] for row in ledger(db, front)] == [("ivanova", "ANSWER")]


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    import time

    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.parametrize("did", [MSK_LINE, "s"], ids=["plus", "s"])
def test_a_did_delivered_with_plus_or_as_s_is_routed(
    did: str, db: Database, agents_on_asterisk: dict[str, int], front: FrontEnd, real_asterisk: RealAsterisk
) -> None:
    result = real_asterisk.result(real_asterisk.call(IVANOV_MOBILE, did))
    assert (result["STATUS"], result["ROUTE"]) == ("ANSWERED", "owner")
    assert [row[:2] for row in ledger(db, front)] == [("ivanova", "ANSWER")]


def test_sigterm_lets_the_calls_in_progress_finish_and_sends_new_ones_to_the_queue(
    db_url: str,
    db: Database,
    agents_on_asterisk: dict[str, int],
    mode: str,
    tmp_path: Path,
    real_asterisk: RealAsterisk,
) -> None:
    port = free_port()
    proc = serve_process(
        db_url,
        tmp_path,
        port,
        CALLKEEPER_STOP_GRACE_SECONDS="20",
        CALLKEEPER_MODE=mode,
        CALLKEEPER_DECISION_DEADLINE_MS=str(PATIENT),
        # A node of two workers: an outcome session may reach the worker that did not advise the call.
        CALLKEEPER_WORKERS="2",
    )
    try:
        assert wait_until(lambda: _listening(port), 20)
        real_asterisk.set_global("CALLKEEPER_AGI", f"agi://127.0.0.1:{port}")
        real_asterisk.agent("ivanova", "answer:0:2")
        real_asterisk.agent("sidorov", "answer:0:2")
        talking = [real_asterisk.call(IVANOV_MOBILE, LINE), real_asterisk.call("+79035550101", "78121234567")]
        assert wait_until(lambda: len(claimed(db)) >= 2, 5)
        queued = real_asterisk.queue_connects()
        proc.send_signal(signal.SIGTERM)
        # A call after SIGTERM: refused (dial mode), or FAILED while advise mode
        # still listens for the outcomes of the calls it advised: the queue.
        late = real_asterisk.result(real_asterisk.call(NEW_CALLER, LINE))
        assert late["STATUS"] in ("", "FAILED")
        assert real_asterisk.queue_connects() == queued + 1
        assert [real_asterisk.result(tag)["STATUS"] for tag in talking] == ["ANSWERED", "ANSWERED"]
        assert proc.wait(20) == 0, proc.stderr.read().decode() if proc.stderr else ""
        assert sorted(row[:2] for row in ledger(db)) == [("ivanova", "ANSWER"), ("sidorov", "ANSWER")]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def test_real_asterisk_saw_no_dialplan_errors(real_asterisk: RealAsterisk) -> None:
    """Whatever ran so far: no line of the shipped dialplan was rejected or failed to parse."""
    messages = real_asterisk.messages()
    assert "pbx_config" not in "\n".join(
        line for line in messages.splitlines() if "WARNING" in line or "ERROR" in line
    )


def test_the_caller_hears_ringing_while_the_busy_owner_is_waited_for(
    db: Database, agents_on_asterisk: dict[str, int], start_front: StartFront, real_asterisk: RealAsterisk
) -> None:
    """Dial mode, owner policy `wait`: the owner is on another call and the server waits for them."""
    with db.unit_of_work() as s:
        s.execute(update(Office).values(owner_policy="wait", owner_wait_seconds=10))
    front = start_front(mode="dial", decision_deadline_ms=PATIENT)
    host, port = front.address
    real_asterisk.set_global("CALLKEEPER_AGI", f"agi://{host}:{port}")
    real_asterisk.agent("ivanova", "answer:0:3")
    first = real_asterisk.call(IVANOV_MOBILE, LINE)
    assert wait_until(lambda: claimed(db) == ["ivanova"], 5)
    waiting = real_asterisk.call(IVANOV_SPOUSE, LINE)
    assert wait_until(lambda: "Ringing" in real_asterisk.state_of(waiting), 3), real_asterisk.state_of(
        waiting
    )
    assert claimed(db) == ["ivanova"]  # still talking: the second caller hears ringing, not silence
    assert real_asterisk.result(first)["STATUS"] == "ANSWERED"
    assert real_asterisk.result(waiting)["STATUS"] == "ANSWERED"
    assert [row[:2] for row in ledger(db, front)] == [("ivanova", "ANSWER")] * 2
