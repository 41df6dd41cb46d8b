"""Equal co-owners through the shipped dialplan and the real server, both modes, both backends:
one Dial rings both, the one who answers is in the ledger (from DIALEDPEERNAME), the other is freed."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from agi.answered import who_answered
from agi.app import FrontEnd
from agi.fake.fakedialplan import SHIPPED, SHIPPED_AGI, Caller, Dialplan
from agi.fake.fakepbx import BUSY, NOANSWER, Answer, FakePbx, channel_name, scripted
from router.directory import households
from router.routing import ledger
from router.routing.plan import PlannedAttempt
from router.storage.db import Database
from router.storage.models import Agent
from tests.agency import DIAL, IVANOV_MOBILE, MSK_LINE
from tests.test_metrics_endpoint import scrape, value

StartFront = Callable[..., FrontEnd]
LINE = MSK_LINE.removeprefix("+")
TOGETHER = f"{DIAL['ivanova']}&{DIAL['orlov']}"


def co_own(db: Database, household: int) -> None:
    with db.unit_of_work() as s:
        households.set_owners(s, household, ["ivanova", "orlov"], mode="equal", reason="a pair", actor="t")


def agents_where_orlov_answers() -> Callable[[str, int], Answer]:
    return scripted(
        {DIAL["ivanova"]: Answer(NOANSWER, 20, 0), DIAL["orlov"]: Answer(ring_seconds=3, talk_seconds=50)},
        Answer(BUSY, 0, 0),
    )


def rows(db: Database, front: FrontEnd, household: int) -> list[tuple[str | None, str, float]]:
    assert front.server.wait_idle(5)
    with db.reader() as s:
        [entry] = ledger.entries(s, household=household)
    return [(a.agent, a.status, a.talk_seconds) for a in entry.attempts]


def claims(db: Database) -> list[str]:
    with db.reader() as s:
        return list(s.scalars(select(Agent.login).where(Agent.claimed_by.is_not(None))))


def test_dial_mode_rings_equal_co_owners_in_one_dial_and_records_who_answered(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    co_own(db, agency["ivanov"])
    front = start_front()
    record = FakePbx(*front.address, agents_where_orlov_answers()).call(IVANOV_MOBILE, dnid=MSK_LINE)
    assert record.status == "ANSWERED"
    assert record.dials[0][:1] == (TOGETHER,)
    assert record.variables["DIALEDPEERNAME"].startswith("PJSIP/102-")
    assert rows(db, front, agency["ivanov"]) == [("ivanova", "NOANSWER", 0.0), ("orlov", "ANSWER", 50.0)]
    assert claims(db) == []
    # The co-owner's answer counts as the owner's: reached, not covered.
    samples = scrape(front)
    assert value(samples, "callkeeper_calls_answered_total", office="msk", by="owner") == 1
    assert value(samples, "callkeeper_owner_calls_total", office="msk", outcome="reached") == 1


def test_advise_mode_gives_one_target_with_both_and_records_who_answered(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    co_own(db, agency["ivanov"])
    front = start_front(mode="advise")
    plan = Dialplan(SHIPPED, {SHIPPED_AGI: front.address}, agents_where_orlov_answers())
    run = plan.call(Caller(IVANOV_MOBILE, LINE))
    decision = run.variables["CALLKEEPER_DECISION"]
    assert run.variables["CALLKEEPER_TARGET_1"] == TOGETHER
    assert run.variables["CALLKEEPER_AGENT_1"] == "1&2"
    assert run.dials[0] == (TOGETHER, "ANSWER")
    assert [(script, args) for script, args, _ in run.agi] == [
        ("route", (LINE,)),
        ("outcome", (decision, "1", "answered")),  # Dial's U(), on orlov's channel
        ("outcome", (decision, "1")),
    ]
    assert run.variables["CALLKEEPER_STATUS"] == "ANSWERED"
    assert rows(db, front, agency["ivanov"]) == [("ivanova", "NOANSWER", 0.0), ("orlov", "ANSWER", 50.0)]
    assert claims(db) == []


def test_the_answering_channel_names_its_agent_as_asterisk_names_it() -> None:
    members = [
        PlannedAttempt(1, "ann", "Local/ann@ck-agents/n", 20, "owner", group=1),
        PlannedAttempt(2, "bob", "PJSIP/205", 20, "owner", group=1),
    ]
    assert who_answered(members, "Local/ann@ck-agents-0000002a;1", None) is members[0]
    assert who_answered(members, "PJSIP/205-0000000b", "205") is members[1]
    assert who_answered(members, None, "ann@ck-agents/n") is members[0]
    assert who_answered(members, "PJSIP/999-0000000c", "999") is None
    assert channel_name("Local/ann@ck-agents/n").startswith("Local/ann@ck-agents-")
    assert who_answered(members, channel_name("PJSIP/205"), None) is members[1]
