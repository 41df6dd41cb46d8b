"""End to end through a real Asterisk 22 (tests/real_asterisk.py) and the
shipped deploy/asterisk/extensions.conf, unchanged, in both modes, on both
backends: what the README promises about Asterisk, proven on the real one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from agi.app import FrontEnd
from router.storage.db import Database
from router.storage.models import Agent, Attempt
from tests.agency import DIAL, IVANOV_MOBILE, MSK_LINE

pytestmark = pytest.mark.slow
StartFront = Callable[..., FrontEnd]
LINE = MSK_LINE.removeprefix("+")


@pytest.fixture
def agents_on_asterisk(db: Database, agency: dict[str, int]) -> dict[str, int]:
    """The agency, its agents reachable as Local/LOGIN@ck-agents."""
    with db.unit_of_work() as s:
        for login in DIAL:
            s.execute(update(Agent).where(Agent.login == login).values(dial=f"Local/{login}@ck-agents"))
    return agency


def ledger(db: Database, front: FrontEnd) -> list[tuple[str, str, float, float]]:
    assert front.server.wait_idle(10)
    with db.reader() as s:
        rows = s.execute(
            select(Agent.login, Attempt.status, Attempt.ring_seconds, Attempt.talk_seconds)
            .join(Agent, Agent.id == Attempt.agent_id)
            .order_by(Attempt.id)
        )
        return [(login, status, float(ring), float(talk)) for login, status, ring, talk in rows]


@pytest.fixture(params=["dial", "advise"])
def front(request: pytest.FixtureRequest, start_front: StartFront, real_asterisk: Any) -> Iterator[FrontEnd]:
    front = start_front(mode=request.param)
    host, port = front.address
    real_asterisk.set_global("CALLKEEPER_AGI", f"agi://{host}:{port}")
    yield front


def test_owner_answers(db: Database, agents_on_asterisk: dict[str, int], front: FrontEnd, real_asterisk: Any) -> None:
    real_asterisk.agent("ivanova", "answer:0:1")
    tag = real_asterisk.call(IVANOV_MOBILE, LINE, talk=10)
    result = real_asterisk.result(tag)
    print(result.values)
    print(ledger(db, front))
    assert result["STATUS"] == "ANSWERED"
    assert [r[:2] for r in ledger(db, front)] == [("ivanova", "ANSWER")]
