"""A small call center for routing tests: two offices, agents, and calls to make."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime

from identity.numbers import normalize
from router.config import Settings
from router.directory import household_reads, households, offices
from router.routing.service import Call, DialOutcome, Router
from router.storage.db import Database

MSK_LINE = "+74951234567"
SPB_LINE = "+78121234567"
NUMBER = "+79161234567"
SPOUSE = "+79167654321"
_uids = itertools.count(1)


def center(db: Database, *, msk: int = 2, spb: int = 1, **settings: object) -> Router:
    """Offices msk and spb with agents m1.., s1..; returns a Router on them."""
    with db.unit_of_work() as s:
        offices.add_office(s, "msk", lines=[MSK_LINE], region="RU")
        offices.add_office(s, "spb", lines=[SPB_LINE], region="RU")
        for i in range(1, msk + 1):
            offices.add_agent(s, f"m{i}", office="msk", dial=f"PJSIP/1{i:02}")
        for i in range(1, spb + 1):
            offices.add_agent(s, f"s{i}", office="spb", dial=f"PJSIP/2{i:02}")
    return Router(db, Settings(db=db.url, **settings))  # type: ignore[arg-type]


def household(db: Database, owner: str | None, *numbers: str) -> int:
    with db.unit_of_work() as s:
        specs = [household_reads.NumberSpec(n, "spouse" if i else "mobile") for i, n in enumerate(numbers)]
        return households.add_household(s, numbers=specs, owner=owner, actor="tester").id


def new_call(number: str = NUMBER, line: str = MSK_LINE, at: datetime | None = None) -> Call:
    uid = f"call-{os.getpid()}-{next(_uids)}"
    return Call(uid=uid, caller=normalize(number), line=line, at=at or datetime.now(UTC))


def outcome(status: str = "ANSWER", talk: float = 60.0, at: datetime | None = None) -> DialOutcome:
    return DialOutcome(
        status=status,
        started_at=at or datetime.now(UTC),
        ring_seconds=4.0,
        talk_seconds=talk if status == "ANSWER" else 0.0,
    )


def set_state(db: Database, login: str, state: str) -> None:
    with db.unit_of_work() as s:
        offices.set_agent_state(s, login, state)
