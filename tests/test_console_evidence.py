"""The console's evidence pages over HTTP, on both backends: the timeline, bookings and splits, suggestions.

Who may see and change what is checked by URL for every role; a change is
read back through the router, and GET is shown to write nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from router.config import Settings
from router.directory import offices
from router.routing.service import Router
from router.splits import bookings
from router.storage.db import Database
from router.storage.models import AuditEntry, Booking, Lead, SplitOverride
from tests.agency import IVANOV_MOBILE, MSK_LINE, seed
from tests.console_client import add_users, console, log_in, text_of
from tests.routing_helpers import new_call, outcome

CALLED = datetime.now(UTC) - timedelta(hours=2)


@dataclass
class Site:
    db: Database
    client: TestClient
    ivanov: int
    petrov: int


@pytest.fixture
def site(db: Database, db_url: str) -> Iterator[Site]:
    ids = seed(db)
    add_users(db)
    with console(db_url, console_language="en") as client:
        yield Site(db, client, ids["ivanov"], ids["petrov"])


def covered_call(db: Database, url: str) -> None:
    """The owner ivanova is paused; orlov answers the Ivanovs' call covering for her."""
    with db.unit_of_work() as s:
        offices.set_agent_state(s, "ivanova", "paused")
    router = Router(db, Settings(db=url))
    decision = router.decide(new_call(IVANOV_MOBILE, line=MSK_LINE, at=CALLED))
    first = decision.plan.attempts[0]
    assert first.agent != "ivanova"
    router.record(decision.id, first.seq, outcome(talk=95, at=CALLED))
    with db.unit_of_work() as s:
        offices.set_agent_state(s, "ivanova", "available")


def unknown_end(db: Database, url: str) -> None:
    """A call whose first attempt started and whose end was never written (the front died)."""
    router = Router(db, Settings(db=url))
    decision = router.decide(new_call(IVANOV_MOBILE, line=MSK_LINE, at=CALLED + timedelta(minutes=5)))
    router.start(decision, decision.plan.attempts[0].seq, CALLED + timedelta(minutes=5))


def counts(db: Database) -> dict[str, int]:
    with db.reader() as s:
        return {
            m.__tablename__: int(s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (AuditEntry, Booking, SplitOverride, Lead)
        }


# -- the timeline ------------------------------------------------------------------------------------


def test_the_timeline_says_for_whom_a_covered_call_was_answered(site: Site, db_url: str) -> None:
    covered_call(site.db, db_url)
    log_in(site.client, "sveta")
    page = site.client.get(f"/households/{site.ivanov}/timeline")
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "covering for ivanova" in shown and "talked 95 s" in shown


def test_the_timeline_says_when_the_end_of_an_attempt_was_never_recorded(site: Site, db_url: str) -> None:
    unknown_end(site.db, db_url)
    log_in(site.client, "sveta")
    shown = text_of(site.client.get(f"/households/{site.ivanov}/timeline").text)
    assert "the end of this attempt was never recorded" in shown


def test_the_timeline_filters_by_period_in_the_agencys_days(site: Site, db_url: str) -> None:
    covered_call(site.db, db_url)
    log_in(site.client, "anna")
    day = CALLED.date()
    before = (day - timedelta(days=3)).isoformat(), (day - timedelta(days=2)).isoformat()
    empty = text_of(site.client.get(f"/households/{site.ivanov}/timeline?since={before[0]}&until={before[1]}").text)
    assert "covering for" not in empty and "Nothing recorded for this family in this period." in empty
    around = (day - timedelta(days=1)).isoformat(), (day + timedelta(days=1)).isoformat()
    shown = text_of(site.client.get(f"/households/{site.ivanov}/timeline?since={around[0]}&until={around[1]}").text)
    assert "covering for ivanova" in shown


def test_the_timeline_exports_the_same_events_as_csv(site: Site, db_url: str) -> None:
    covered_call(site.db, db_url)
    log_in(site.client, "sveta")
    response = site.client.get(f"/households/{site.ivanov}/timeline.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    answered = [r for r in rows if r["kind"] == "attempt" and r["status"] == "ANSWER"]
    assert len(answered) == 1 and answered[0]["covering_for"] == "ivanova"


def test_the_card_links_to_its_timeline_for_a_supervisor_only(site: Site) -> None:
    log_in(site.client, "sveta")
    assert f'href="/households/{site.ivanov}/timeline"' in site.client.get(f"/households/{site.ivanov}").text
    log_in(site.client, "ira")
    assert "/timeline" not in site.client.get(f"/households/{site.ivanov}").text


@pytest.mark.parametrize("path", ["/households/{id}/timeline", "/households/{id}/timeline.csv"])
def test_a_manager_gets_403_on_a_timeline_by_url(site: Site, path: str) -> None:
    log_in(site.client, "ira")
    assert site.client.get(path.format(id=site.ivanov)).status_code == 403
    assert site.client.get(path.format(id=site.petrov)).status_code == 403


def test_a_bad_period_is_refused_in_words(site: Site) -> None:
    log_in(site.client, "sveta")
    response = site.client.get(f"/households/{site.ivanov}/timeline?since=yesterday")
    assert response.status_code == 422 and "YYYY-MM-DD" in text_of(response.text)
