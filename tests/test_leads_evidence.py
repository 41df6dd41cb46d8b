"""A lead is a touch: on the family's timeline, and in the split report's evidence.

It earns a share only when the setting `splits_count_leads` says so.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from router.config import Settings
from router.directory import households
from router.leads import sources, store
from router.leads.values import LeadIn
from router.splits import bookings, split_report, timeline
from router.storage.db import Database, utcnow
from router.storage.models import Agent, Lead
from tests.routing_helpers import NUMBER, center, household, new_call, outcome


def family_with_a_call_a_lead_and_a_booking(db: Database) -> int:
    """m1 owns the family and answers its call; then the family's order comes in, and a booking closes."""
    router = center(db)
    hid = household(db, "m1", NUMBER)
    now = utcnow()
    decision = router.decide(new_call(NUMBER, at=now - timedelta(days=2)))
    router.record(decision.id, 1, outcome(talk=60, at=now - timedelta(days=2)))
    with db.unit_of_work() as s:
        sources.add_source(s, "website", actor="admin")
        lead, _ = store.submit_in(
            s,
            "website",
            store.check(LeadIn("O-1", phone=NUMBER), "RU"),
            settings=Settings(db=db.url),
            now=now - timedelta(hours=1),
        )
        assert lead.household == hid
        bookings.add_booking(s, hid, ref="B-1", amount=10000, closed_at=now, actor="a")
    return hid


def test_a_lead_appears_on_the_familys_timeline_with_whom_it_was_given_to(db: Database) -> None:
    hid = family_with_a_call_a_lead_and_a_booking(db)
    with db.reader() as s:
        found = timeline.timeline(s, hid, region="RU")
    [event] = [e for e in found.events if isinstance(e, timeline.LeadEvent)]
    assert (event.lead.assigned_to, event.lead.matched_by, event.lead.external_id) == ("m1", "number", "O-1")
    kinds = [e.kind for e in found.events]
    assert kinds.index("call") < kinds.index("lead") < kinds.index("booking")
    rows = [r for r in timeline.csv_rows(found) if r[1] == "lead"]
    assert len(rows) == 1 and "website/O-1" in rows[0] and "m1" in rows[0]


def test_a_lead_is_split_evidence_but_earns_no_share_unless_the_setting_says_so(db: Database) -> None:
    hid = family_with_a_call_a_lead_and_a_booking(db)
    with db.unit_of_work() as s:
        # The lead went to another manager (as when the owner was away): the case where counting matters.
        lead = s.get(Lead, store.list_leads(s)[0].lead)
        assert lead is not None
        lead.assigned_agent = s.scalars(select(Agent).where(Agent.login == "m2")).one()
    with db.reader() as s:
        listed = [b.for_report() for b in bookings.list_bookings(s, household=hid)]
        [plain] = split_report.report(s, listed, policy="equal", region="RU")
        [counted] = split_report.report(s, listed, policy="equal", region="RU", count_leads=True)
    assert [t.agent for t in plain.leads] == ["m2"]
    assert {x.agent: x.amount for x in plain.shares} == {"m1": 10000}
    assert plain.as_json()["leads"][0]["agent"] == "m2"
    assert {x.agent: x.amount for x in counted.shares} == {"m1": 5000, "m2": 5000}


def test_a_merged_familys_booking_and_lead_follow_it_to_the_survivors_timeline(db: Database) -> None:
    other = family_with_a_call_a_lead_and_a_booking(db)
    survivor = household(db, "m1", "+79035550101")
    with db.unit_of_work() as s:
        households.merge(s, survivor, other, actor="admin", reason="one family")
    with db.reader() as s:
        found = timeline.timeline(s, survivor, region="RU")
    [lead] = [e for e in found.events if isinstance(e, timeline.LeadEvent)]
    [booking] = [e for e in found.events if isinstance(e, timeline.BookingEvent)]
    assert lead.lead.external_id == "O-1" and booking.booking.ref == "B-1"
    assert [e.kind for e in found.events].count("call") == 1
