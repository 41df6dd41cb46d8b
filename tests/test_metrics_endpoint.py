"""`/metrics` over HTTP moves by exactly the calls made, and its series do not
grow with callers."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from agi.app import FrontEnd
from agi.fake.fakedialplan import SHIPPED, SHIPPED_AGI, Caller, Dialplan
from agi.fake.fakepbx import BUSY, NOANSWER, Answer, FakePbx, scripted
from router.directory import offices
from router.storage.db import Database
from tests.agency import DIAL, IVANOV_MOBILE, IVANOV_SPOUSE, SPB_LINE

StartFront = Callable[..., FrontEnd]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(front: FrontEnd) -> Samples:
    assert front.ops is not None and front.server.wait_idle(5)
    host, port = front.ops.address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def change(before: Samples, after: Samples) -> Callable[..., float]:
    """How much a series moved between two scrapes: `change(...)(name, **labels)`."""

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    return delta


def test_counters_move_by_exactly_the_calls_made(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    before = scrape(front)
    owner_answers = FakePbx(*front.address, scripted({}, Answer()))
    for _ in range(10):
        assert owner_answers.call(IVANOV_MOBILE, args=["msk"]).status == "ANSWERED"
    covering = FakePbx(*front.address, scripted({DIAL["ivanova"]: Answer(BUSY, 0, 0)}, Answer()))
    for _ in range(3):
        assert covering.call(IVANOV_SPOUSE, dnid=SPB_LINE).status == "ANSWERED"
    nobody = FakePbx(*front.address, scripted({}, Answer(NOANSWER)))
    assert nobody.call("+79990001111", args=["msk"]).status == "NOANSWER"
    after = scrape(front)

    delta = change(before, after)

    assert delta("callkeeper_decisions_total", office="msk", route="owner") == 10
    assert delta("callkeeper_decisions_total", office="spb", route="owner") == 3
    assert delta("callkeeper_decisions_total", office="msk", route="office-pool") == 1
    assert delta("callkeeper_calls_answered_total", office="msk", by="owner") == 10
    assert delta("callkeeper_calls_answered_total", office="spb", by="covering") == 3
    assert delta("callkeeper_owner_calls_total", office="msk", outcome="reached") == 10
    assert delta("callkeeper_owner_calls_total", office="spb", outcome="missed") == 3
    assert delta("callkeeper_attempts_total", office="spb", status="BUSY") == 3
    assert delta("callkeeper_attempts_total", office="msk", status="NOANSWER") == len(DIAL)
    assert delta("callkeeper_agi_sessions_total", result="answered") == 13
    assert delta("callkeeper_agi_sessions_total", result="noanswer") == 1
    assert delta("callkeeper_decision_duration_seconds_count") == 14
    assert delta("callkeeper_failopen_total", reason="error") == 0
    assert value(after, "callkeeper_agi_sessions_active") == 0
    assert value(after, "callkeeper_build_info", version="0.1.0") == 1


def test_advise_outcome_counts_the_answer_under_its_office_and_owner(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    # The outcome script runs in a session of its own, which knows only the decision id.
    front = start_front(mode="advise")
    before = scrape(front)
    pbx = FakePbx(*front.address)
    advised = pbx.call(IVANOV_SPOUSE, args=["spb"], uid="1795807259.71")
    assert advised.variables["CALLKEEPER_TARGET_1"] == DIAL["ivanova"]  # the owner
    answered = {**advised.variables, "DIALSTATUS": "ANSWER", "ANSWEREDTIME_MS": "42000"}
    decision = advised.variables["CALLKEEPER_DECISION"]
    outcome = pbx.call(
        IVANOV_SPOUSE, script="outcome", args=[decision, "1"], variables=answered, uid="1795807259.71"
    )
    assert outcome.status == "ANSWERED"
    after = scrape(front)

    delta = change(before, after)

    assert delta("callkeeper_calls_answered_total", office="spb", by="owner") == 1
    assert delta("callkeeper_calls_answered_total", office="none", by="pool") == 0
    assert delta("callkeeper_attempts_total", office="spb", status="ANSWER") == 1
    assert delta("callkeeper_owner_calls_total", office="spb", outcome="reached") == 1


def test_advise_owner_calls_count_once_per_call_when_the_dialplan_stops_dialling(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    """Through the shipped dialplan: the owner answers; the owner is busy and the next
    target answers; everyone is busy and the call goes to the queue. Each call counts
    once, from the outcome of its last attempt, not from every outcome session."""
    front = start_front(mode="advise")
    owner = DIAL["ivanova"]
    line = SPB_LINE.removeprefix("+")
    before = scrape(front)
    for agents in (
        scripted({}, Answer(talk_seconds=30)),
        scripted({owner: Answer(BUSY, 0, 0)}, Answer(talk_seconds=30)),
        scripted({}, Answer(BUSY, 0, 0)),
    ):
        Dialplan(SHIPPED, {SHIPPED_AGI: front.address}, agents).call(Caller(IVANOV_SPOUSE, line))
    delta = change(before, scrape(front))

    assert delta("callkeeper_owner_calls_total", office="spb", outcome="reached") == 1
    assert delta("callkeeper_owner_calls_total", office="spb", outcome="missed") == 2
    assert delta("callkeeper_calls_answered_total", office="spb", by="owner") == 1
    assert delta("callkeeper_calls_answered_total", office="spb", by="covering") == 1


def test_unknown_script_counts_a_failopen(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    before = scrape(front)
    assert FakePbx(*front.address).call(IVANOV_MOBILE, script="nope").status == "FAILED"
    after = scrape(front)
    key = ("callkeeper_failopen_total", (("reason", "error"),))
    assert after[key] - before[key] == 1


def test_series_do_not_grow_with_callers(
    db: Database, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    pbx = FakePbx(*front.address, scripted({}, Answer()))
    pbx.call("+79990000000", args=["msk"])
    series_before = set(scrape(front))
    for i in range(1, 200):
        pbx.call(f"+7999{i:07d}", args=["msk" if i % 2 else "spb"])
    series_after = set(scrape(front))
    assert series_after == series_before
    assert not any("7999" in str(labels) for _, labels in series_after)


def test_agents_gauge_counts_states(db: Database, agency: dict[str, int], start_front: StartFront) -> None:
    with db.unit_of_work() as s:
        offices.set_agent_state(s, "kim", "paused")
    front = start_front()
    front.housekeeping()
    samples = scrape(front)
    assert value(samples, "callkeeper_agents", office="msk", state="available") == 2
    assert value(samples, "callkeeper_agents", office="msk", state="paused") == 1
    assert value(samples, "callkeeper_agents", office="spb", state="available") == 2
    assert value(samples, "callkeeper_ready") == 1  # without anyone asking /readyz
