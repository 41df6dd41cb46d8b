"""The console's disputes: the open ones with their age, one dispute's evidence side by side, open, resolve.

Through the in-process client on both backends; supervisors and admins only.
"""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from router.config import Settings
from router.directory import disputes, household_reads
from router.routing.service import Router
from router.splits import bookings
from router.storage.db import Database, utcnow
from tests.agency import IVANOV_MOBILE, MSK_LINE, seed
from tests.console_client import add_users, console, log_in, text_of
from tests.routing_helpers import new_call, outcome


@pytest.fixture
def site(db: Database, db_url: str) -> Iterator[tuple[Database, TestClient, int]]:
    ids = seed(db)
    add_users(db)
    router = Router(db, Settings(db=db_url))
    for agent, talk in (("ivanova", 60.0), ("sidorov", 180.0)):  # each answers one call of the family
        decision = router.decide(new_call(IVANOV_MOBILE, MSK_LINE))
        seq = next(a.seq for a in decision.plan.attempts if a.agent == agent)
        router.record(decision.id, seq, outcome(talk=talk))
    with db.unit_of_work() as s:
        bookings.add_booking(s, ids["ivanov"], ref="T-1", amount=1000_00, closed_at=utcnow(), actor="t")
    with console(db_url) as client:
        yield db, client, ids["ivanov"]


def test_a_supervisor_opens_sees_and_resolves_a_dispute(site: tuple[Database, TestClient, int]) -> None:
    db, client, ivanov = site
    csrf = log_in(client, "sveta")
    opened = client.post(
        "/disputes",
        data={"household": str(ivanov), "agents": "ivanova,sidorov", "reason": "оба вели", "csrf": csrf},
    )
    assert opened.status_code == 303
    page_url = opened.headers["location"]
    listing = text_of(client.get("/disputes").text)
    assert f"№ {ivanov}" in listing and "ivanova, sidorov" in listing and "оба вели" in listing
    page = text_of(client.get(page_url).text)
    assert "Открыт 0 дн." in page
    assert "Ответил на звонки 1 1 Время разговоров, мин 1,0 3,0" in page
    assert "По правилу «поровну», продаж: 1 500,00 ₽ 500,00 ₽" in page
    assert "По правилу «по времени разговора», продаж: 1 250,00 ₽ 750,00 ₽" in page
    assert "По правилу «всё владельцу», продаж: 1 1 000,00 ₽ 0,00 ₽" in page
    resolved = client.post(
        page_url, data={"owner": "sidorov", "policy": "equal", "reason": "он продал", "csrf": csrf}
    )
    assert resolved.status_code == 303
    assert "владелец sidorov, раздел поровну" in text_of(client.get(page_url).text)
    assert "Открытых споров нет." in text_of(client.get("/disputes").text)
    with db.reader() as s:
        assert household_reads.household_view(household_reads.get_household(s, ivanov)).owner == "sidorov"
        assert disputes.list_disputes(s, open_only=True) == []


def test_resolving_a_dispute_again_says_when_it_was_resolved_in_moscow_time(
    site: tuple[Database, TestClient, int],
) -> None:
    db, client, ivanov = site
    csrf = log_in(client, "sveta")
    opened = client.post(
        "/disputes",
        data={"household": str(ivanov), "agents": "ivanova,sidorov", "reason": "оба вели", "csrf": csrf},
    )
    page_url = opened.headers["location"]
    form = {"owner": "sidorov", "policy": "equal", "reason": "он продал", "csrf": csrf}
    assert client.post(page_url, data=form).status_code == 303
    with db.reader() as s:
        [resolved] = [d for d in disputes.list_disputes(s) if d.household == ivanov]
    assert resolved.resolved_at is not None
    again = text_of(client.post(page_url, data=form).text)
    local = resolved.resolved_at.astimezone(ZoneInfo("Europe/Moscow"))
    assert f"{local:%H:%M}" in again and "sveta" in again, again
    assert "T" not in again.split("решён")[1].split("sveta")[0], again


def test_a_dispute_resolved_with_co_owners_in_order_rings_them_in_order(
    site: tuple[Database, TestClient, int],
) -> None:
    db, client, ivanov = site
    csrf = log_in(client, "sveta")
    opened = client.post(
        "/disputes",
        data={"household": str(ivanov), "agents": "ivanova,sidorov", "reason": "оба вели", "csrf": csrf},
    )
    page_url = opened.headers["location"]
    assert 'name="mode"' in client.get(page_url).text
    form = {"owner": "sidorov", "co_owners": "ivanova", "mode": "ordered", "policy": "equal"}
    resolved = client.post(page_url, data=form | {"reason": "ведут по очереди", "csrf": csrf})
    assert resolved.status_code == 303
    with db.reader() as s:
        view = household_reads.household_view(household_reads.get_household(s, ivanov))
    assert (view.owner, view.co_owners, view.owners_mode) == ("sidorov", ("ivanova",), "ordered")


def test_a_manager_may_not_see_or_open_disputes(site: tuple[Database, TestClient, int]) -> None:
    _, client, ivanov = site
    csrf = log_in(client, "ira")
    assert client.get("/disputes").status_code == 403
    refused = client.post(
        "/disputes",
        data={"household": str(ivanov), "agents": "ivanova,sidorov", "reason": "моя", "csrf": csrf},
    )
    assert refused.status_code == 403
