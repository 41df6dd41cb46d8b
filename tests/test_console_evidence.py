"""The console's evidence pages over HTTP, on both backends: the timeline, bookings and splits, suggestions.

Who may see and change what is checked by URL for every role; a change is
read back through the router, and GET is shown to write nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from identity.matching import DEFAULT_THRESHOLD
from router.config import Settings, agency_zone
from router.directory import audit, household_reads, households, offices, suggestions
from router.leads import sources, store
from router.leads.values import LeadIn
from router.routing import agent_board
from router.routing.service import Router
from router.splits import bookings
from router.storage.db import Database
from router.storage.models import AuditEntry, Booking, Household, Lead, SplitOverride, SuggestionRejection
from tests.agency import IVANOV_MOBILE, MSK_LINE
from tests.console_client import Site, log_in, seeded_site, text_of
from tests.routing_helpers import new_call, outcome
from web.board_counts import SharedCounts

CALLED = datetime.now(UTC) - timedelta(hours=2)


def earlier_today(db_url: str) -> datetime:
    """A moment before now in the agency's today: two hours ago is yesterday in Moscow from 00:00 to 02:00."""
    now = datetime.now(UTC)
    local = now.astimezone(agency_zone(Settings(db=db_url)))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(now - timedelta(hours=2), midnight + (now - midnight) / 2)


@pytest.fixture
def site(db: Database, db_url: str) -> Iterator[Site]:
    with seeded_site(db, db_url, console_language="en") as made:
        yield made


def covered_call(db: Database, url: str, at: datetime = CALLED) -> None:
    """The owner ivanova is paused; orlov answers the Ivanovs' call covering for her."""
    with db.unit_of_work() as s:
        offices.set_agent_state(s, "ivanova", "paused")
    router = Router(db, Settings(db=url))
    decision = router.decide(new_call(IVANOV_MOBILE, line=MSK_LINE, at=at))
    first = decision.plan.attempts[0]
    assert first.agent != "ivanova"
    router.record(decision.id, first.seq, outcome(talk=95, at=at))
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
            for m in (AuditEntry, Booking, SplitOverride, Lead, SuggestionRejection)
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
    empty = text_of(
        site.client.get(f"/households/{site.ivanov}/timeline?since={before[0]}&until={before[1]}").text
    )
    assert "covering for" not in empty and "Nothing recorded for this family in this period." in empty
    around = (day - timedelta(days=1)).isoformat(), (day + timedelta(days=1)).isoformat()
    shown = text_of(
        site.client.get(f"/households/{site.ivanov}/timeline?since={around[0]}&until={around[1]}").text
    )
    assert "covering for ivanova" in shown


def test_the_timeline_exports_the_same_events_as_csv(site: Site, db_url: str) -> None:
    covered_call(site.db, db_url)
    log_in(site.client, "sveta")
    response = site.client.get(f"/households/{site.ivanov}/timeline.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = console_csv(response.text)
    answered = [r for r in rows if r["kind"] == "attempt" and r["status"] == "ANSWER"]
    assert len(answered) == 1 and answered[0]["covering_for"] == "ivanova"


def console_csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))


def test_the_timeline_csv_opens_in_a_russian_excel_with_the_agencys_times(site: Site, db_url: str) -> None:
    """A Russian Excel reads a UTF-8 file as such only after a BOM, and splits columns at `;`; and
    a supervisor comparing the file with the page must see the same clock, not UTC's."""
    covered_call(site.db, db_url)
    log_in(site.client, "sveta")
    rows = console_csv(site.client.get(f"/households/{site.ivanov}/timeline.csv").text)
    [call] = [r for r in rows if r["kind"] == "call"]
    moscow = CALLED.astimezone(agency_zone(Settings(db=db_url))).replace(microsecond=0)
    assert call["at"] == moscow.isoformat()


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
    assert response.status_code == 422 and "write a date as 31.12.2026" in text_of(response.text)


# -- bookings and splits ---------------------------------------------------------------------------


def a_booking(site: Site, ref: str = "B-1", amount: int = 100_001) -> int:
    with site.db.unit_of_work() as s:
        return bookings.add_booking(
            s, site.ivanov, ref=ref, amount=amount, closed_at=CALLED + timedelta(hours=1), actor="setup"
        ).id


def test_a_supervisor_adds_a_booking_by_hand_audited_as_them(site: Site) -> None:
    token = log_in(site.client, "sveta")
    response = site.client.post(
        "/bookings",
        data={
            "csrf": token,
            "household": str(site.ivanov),
            "ref": "TOUR-7",
            "amount": "1234.57",
            "closed_at": "2026-12-01T15:30",
        },
    )
    assert response.status_code == 303 and response.headers["location"] == "/bookings?done=added"
    with site.db.reader() as s:
        [stored] = bookings.list_bookings(s, household=site.ivanov)
    assert (stored.ref, stored.amount, stored.added_by) == ("TOUR-7", 123457, "sveta")
    assert stored.closed_at == datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
    listed = text_of(site.client.get("/bookings").text)
    assert "TOUR-7" in listed and "1,234.57" in listed


def test_a_booking_with_a_bad_amount_is_refused_and_nothing_is_written(site: Site) -> None:
    token = log_in(site.client, "sveta")
    before = counts(site.db)
    response = site.client.post(
        "/bookings",
        data={
            "csrf": token,
            "household": str(site.ivanov),
            "ref": "X",
            "amount": "12.345",
            "closed_at": "2026-12-01T15:30",
        },
    )
    assert response.status_code == 422 and "Check the input" in text_of(response.text)
    assert counts(site.db) == before


def test_a_bookings_csv_is_imported_whole_or_not_at_all(site: Site) -> None:
    token = log_in(site.client, "anna")
    head = "booking,household,amount,closed_at\n"
    good = f"{head}C-1,{site.ivanov},100.00,2026-12-01T10:00+03:00\nC-2,{site.petrov},50,2026-12-02\n"
    bad = f"{head}C-3,{site.ivanov},100.00,2026-12-01T10:00+03:00\nC-4,999999,50,2026-12-02\n"
    before = counts(site.db)
    refused = site.client.post(
        "/bookings/import", data={"csrf": token}, files={"file": ("mine.csv", bad, "text/csv")}
    )
    assert refused.status_code == 422 and "line 3: no family 999999" in text_of(refused.text)
    assert "/tmp" not in refused.text and counts(site.db) == before
    response = site.client.post(
        "/bookings/import", data={"csrf": token}, files={"file": ("mine.csv", good, "text/csv")}
    )
    assert response.status_code == 303
    with site.db.reader() as s:
        assert sorted(b.ref for b in bookings.list_bookings(s)) == ["C-1", "C-2"]


def test_a_booking_shows_its_proposed_split_with_the_calls_it_rests_on(site: Site, db_url: str) -> None:
    covered_call(site.db, db_url)
    booking = a_booking(site)
    log_in(site.client, "sveta")
    page = site.client.get(f"/bookings/{booking}")
    shown = text_of(page.text)
    assert page.status_code == 200 and "Split proposed by policy: equal shares" in shown
    assert "orlov" in shown or "kim" in shown
    assert "covering for ivanova" in shown and "talked 95 s" in shown


def test_an_override_whose_shares_do_not_total_100_is_refused_in_words(site: Site) -> None:
    booking = a_booking(site)
    token = log_in(site.client, "sveta")
    before = counts(site.db)
    response = site.client.post(
        f"/bookings/{booking}/override",
        data={"csrf": token, "shares": "ivanova=60\norlov=30", "reason": "деление"},
    )
    assert response.status_code == 422 and "total 90, not 100" in text_of(response.text)
    assert counts(site.db) == before


def test_an_override_needs_a_reason(site: Site) -> None:
    booking = a_booking(site)
    token = log_in(site.client, "sveta")
    before = counts(site.db)
    response = site.client.post(
        f"/bookings/{booking}/override", data={"csrf": token, "shares": "ivanova=100", "reason": ""}
    )
    assert response.status_code == 422 and counts(site.db) == before


def test_an_override_is_exact_to_the_kopeck_audited_and_shown_on_the_timeline(site: Site) -> None:
    booking = a_booking(site, amount=100_001)
    token = log_in(site.client, "sveta")
    response = site.client.post(
        f"/bookings/{booking}/override",
        data={"csrf": token, "shares": "ivanova=33.34, orlov=33.33, kim=33.33", "reason": "три менеджера"},
    )
    assert (
        response.status_code == 303 and response.headers["location"] == f"/bookings/{booking}?done=overridden"
    )
    page = text_of(site.client.get(f"/bookings/{booking}").text)
    assert "Split overridden by sveta" in page and "три менеджера" in page
    with site.db.reader() as s:
        entry = s.execute(
            select(AuditEntry.actor, AuditEntry.household_id).where(AuditEntry.action == "override")
        ).one()
    assert tuple(entry) == ("sveta", site.ivanov)
    timeline = site.client.get(f"/households/{site.ivanov}/timeline?policy=equal")
    shown = text_of(timeline.text)
    assert "split overridden by sveta" in shown and "«три менеджера»" in shown
    amounts = [
        r
        for r in console_csv(site.client.get(f"/households/{site.ivanov}/timeline.csv").text)
        if r["kind"] == "share"
    ]
    assert sum(int(r["amount"].replace(".", "")) for r in amounts) == 100_001


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/bookings"),
        ("get", "/bookings/{b}"),
        ("post", "/bookings"),
        ("post", "/bookings/import"),
        ("post", "/bookings/{b}/override"),
    ],
)
def test_a_manager_gets_403_on_bookings_by_url(site: Site, method: str, path: str) -> None:
    booking = a_booking(site)
    token = log_in(site.client, "ira")
    before = counts(site.db)
    data = {
        "csrf": token,
        "shares": "ivanova=100",
        "reason": "мой",
        "household": str(site.ivanov),
        "ref": "M",
        "amount": "1",
        "closed_at": "2026-12-01T10:00",
    }
    url = path.format(b=booking)
    response = site.client.get(url) if method == "get" else site.client.post(url, data=data)
    assert response.status_code == 403 and counts(site.db) == before


@pytest.mark.parametrize("path", ["/bookings", "/bookings/import", "/bookings/{b}/override"])
def test_a_bookings_post_without_the_csrf_token_is_refused(site: Site, path: str) -> None:
    booking = a_booking(site)
    log_in(site.client, "anna")
    before = counts(site.db)
    response = site.client.post(path.format(b=booking), data={"shares": "ivanova=100", "reason": "x"})
    assert response.status_code == 403 and counts(site.db) == before


def test_get_on_the_evidence_pages_writes_nothing(site: Site, db_url: str) -> None:
    covered_call(site.db, db_url)
    booking = a_booking(site)
    log_in(site.client, "anna")
    before = counts(site.db)
    for path in (
        f"/households/{site.ivanov}/timeline",
        f"/households/{site.ivanov}/timeline.csv",
        "/bookings",
        f"/bookings/{booking}",
        f"/bookings/{booking}/override",
        "/bookings/import",
    ):
        assert site.client.get(path).status_code in (200, 405)
    assert counts(site.db) == before


# -- suggestions and leads waiting -----------------------------------------------------------------


def look_alike(site: Site) -> int:
    """A family a call created with Мария Иванова's name and the Ivanovs' email: probably the Ivanovs."""
    with site.db.unit_of_work() as s:
        s.get(Household, site.ivanov).email = "ivanovy@mail.ru"  # type: ignore[union-attr]
        return households.add_household(
            s,
            members=["Иванова Мария"],
            email="ivanovy@mail.ru",
            numbers=[household_reads.NumberSpec("+79265550000")],
            actor="router",
            origin="call",
        ).id


def provisional_lead(site: Site) -> int:
    with site.db.unit_of_work() as s:
        sources.add_source(s, "website", actor="admin")
        s.get(Household, site.ivanov).address = "Москва, ул. Ленина, д. 5, кв. 12"  # type: ignore[union-attr]
    with site.db.reader() as s:
        index = suggestions.load_index(s)
    lead, _ = store.submit(
        site.db,
        "website",
        LeadIn("L-1", phone="+79990000001", name="Иванова Елена", address="Москва, ул. Ленина, 5, кв 12"),
        settings=Settings(db=site.url),
        index=index,
        auto_threshold=DEFAULT_THRESHOLD,
    )
    assert lead.provisional and lead.household == site.ivanov
    return lead.lead


def test_the_queue_shows_a_family_made_by_a_call_that_looks_like_an_existing_one(site: Site) -> None:
    new = look_alike(site)
    log_in(site.client, "sveta")
    page = site.client.get("/suggestions")
    assert page.status_code == 200
    assert f'data-pair="{site.ivanov}-{new}"' in page.text
    shown = text_of(page.text)
    assert "same email: ivanovy@mail.ru" in shown and "created by a call on" in shown
    assert f'href="/households/{site.ivanov}/merge?other={new}"' in page.text


def test_a_rejected_pair_is_remembered_audited_and_not_offered_again(site: Site) -> None:
    new = look_alike(site)
    token = log_in(site.client, "sveta")
    card = site.client.get(f"/households/{site.ivanov}").text
    assert f'data-pair="{site.ivanov}-{new}"' in card
    response = site.client.post(
        "/suggestions/reject",
        data={"csrf": token, "keep": str(site.ivanov), "other": str(new), "reason": "тёзки"},
    )
    assert response.status_code == 303 and response.headers["location"] == "/suggestions?done=rejected"
    with site.db.reader() as s:
        assert suggestions.rejected(s) == {(site.ivanov, new)}
        trail = audit.trail(s, site.ivanov, action=suggestions.REJECT)
    assert [(t.actor, t.reason) for t in trail] == [("sveta", "тёзки")]
    assert f'data-pair="{site.ivanov}-{new}"' not in site.client.get("/suggestions").text
    assert f'data-pair="{site.ivanov}-{new}"' not in site.client.get(f"/households/{site.ivanov}").text
    again = site.client.post(
        "/suggestions/reject", data={"csrf": token, "keep": str(new), "other": str(site.ivanov)}
    )
    assert again.status_code == 303
    with site.db.reader() as s:
        assert len(audit.trail(s, site.ivanov, action=suggestions.REJECT)) == 1


def test_an_accepted_suggestion_is_merged_and_leaves_the_queue(site: Site) -> None:
    new = look_alike(site)
    token = log_in(site.client, "sveta")
    confirm = site.client.get(f"/households/{site.ivanov}/merge?other={new}")
    assert confirm.status_code == 200
    merged = site.client.post(
        f"/households/{site.ivanov}/merge", data={"csrf": token, "other": str(new), "reason": "одна семья"}
    )
    assert merged.status_code == 303
    with site.db.reader() as s:
        assert household_reads.lookup(s, "+79265550000").household_id == site.ivanov  # type: ignore[union-attr]
    assert "data-pair=" not in site.client.get("/suggestions").text


def test_a_lead_waiting_for_confirmation_is_confirmed_and_its_number_linked(site: Site) -> None:
    lead = provisional_lead(site)
    token = log_in(site.client, "sveta")
    assert f'data-lead="{lead}"' in site.client.get("/suggestions").text
    response = site.client.post(f"/leads/{lead}/confirm", data={"csrf": token})
    assert response.status_code == 303
    with site.db.reader() as s:
        assert household_reads.lookup(s, "+79990000001").household_id == site.ivanov  # type: ignore[union-attr]
        assert store.list_leads(s, provisional=True) == []
    assert f'data-lead="{lead}"' not in site.client.get("/suggestions").text


def test_a_rejected_lead_gets_a_family_of_its_own(site: Site) -> None:
    lead = provisional_lead(site)
    token = log_in(site.client, "anna")
    assert site.client.post(f"/leads/{lead}/reject", data={"csrf": token}).status_code == 303
    with site.db.reader() as s:
        [view] = store.list_leads(s)
    assert view.household not in (None, site.ivanov) and not view.provisional and view.confirmed_by == "anna"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/suggestions"),
        ("post", "/suggestions/reject"),
        ("post", "/leads/{l}/confirm"),
        ("post", "/leads/{l}/reject"),
    ],
)
def test_a_manager_gets_403_on_suggestions_and_leads_by_url(site: Site, method: str, path: str) -> None:
    new = look_alike(site)
    lead = provisional_lead(site)
    token = log_in(site.client, "ira")
    before = counts(site.db)
    url = path.format(l=lead)
    data = {"csrf": token, "keep": str(site.ivanov), "other": str(new)}
    response = site.client.get(url) if method == "get" else site.client.post(url, data=data)
    assert response.status_code == 403 and counts(site.db) == before
    with site.db.reader() as s:
        assert suggestions.rejected(s) == set()


@pytest.mark.parametrize("path", ["/suggestions/reject", "/leads/{l}/confirm", "/leads/{l}/reject"])
def test_a_suggestions_post_without_the_csrf_token_is_refused(site: Site, path: str) -> None:
    new = look_alike(site)
    lead = provisional_lead(site)
    log_in(site.client, "anna")
    before = counts(site.db)
    response = site.client.post(path.format(l=lead), data={"keep": str(site.ivanov), "other": str(new)})
    assert response.status_code == 403 and counts(site.db) == before


def test_get_on_the_suggestions_pages_writes_nothing(site: Site) -> None:
    look_alike(site)
    lead = provisional_lead(site)
    log_in(site.client, "anna")
    before = counts(site.db)
    for path in ("/suggestions", "/suggestions/reject", f"/leads/{lead}/confirm", f"/leads/{lead}/reject"):
        assert site.client.get(path).status_code in (200, 405)
    assert counts(site.db) == before
    with site.db.reader() as s:
        assert suggestions.rejected(s) == set() and len(store.list_leads(s, provisional=True)) == 1


# -- the agents board's columns --------------------------------------------------------------------


def test_the_board_shows_calls_today_and_the_owner_hit_rate_as_the_router_counts_them(
    site: Site, db_url: str
) -> None:
    covered_call(site.db, db_url, at=earlier_today(db_url))
    with site.db.reader() as s:
        counted = {
            a.login: a
            for a in agent_board.board(s, now=datetime.now(UTC), zone=agency_zone(Settings(db=db_url)))
        }
    answered_by = next(login for login, a in counted.items() if a.answered_today)
    log_in(site.client, "sveta")
    page = site.client.get("/agents", headers={"HX-Request": "true"}).text
    rows = {
        m.group(1): text_of(m.group(0)) for m in re.finditer(r'<tr data-agent="([^"]+)".*?</tr>', page, re.S)
    }
    assert rows[answered_by].split(" Pause")[0].endswith("1 (answered 1) —")
    assert counted["ivanova"].hit_rate == 0.0 and counted["ivanova"].owner_away_covered == 1
    assert "0% (0 of 1; covered by colleagues: 1)" in rows["ivanova"]
    assert rows["sidorov"].split(" Pause")[0].endswith("0 —")


def test_the_boards_recount_runs_off_the_request_path_and_the_last_count_is_shown_meanwhile(
    site: Site, db_url: str
) -> None:
    shared = SharedCounts(site.db, max_age=0.0)
    zone = agency_zone(Settings(db=db_url))

    def calls_today() -> int:
        with site.db.reader() as s:
            return sum(a.calls_today for a in shared.board(s, now=datetime.now(UTC), zone=zone))

    before = calls_today()  # the day's first view counts at once
    covered_call(site.db, db_url, at=earlier_today(db_url))
    assert calls_today() == before  # the recount started behind this view, which shows the last one
    shared.wait_for_recount(timeout=60)
    assert calls_today() > before


def test_a_pause_shows_on_the_board_at_once_while_the_counts_are_shared(site: Site) -> None:
    token = log_in(site.client, "sveta")
    site.client.get("/agents")
    site.client.post("/agents/kim/state", data={"state": "paused", "csrf": token})
    page = site.client.get("/agents", headers={"HX-Request": "true"}).text
    assert 'data-agent="kim" class="state-paused" data-live="paused"' in page
