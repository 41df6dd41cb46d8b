"""The evidence timeline of one household: what a supervisor reads when two managers argue.

Every call (its decision and attempts: when, line, office, route, who rang
and how long, who answered, talk time, covering for whom), every audit event
about the household (links, moves, merges, transfers, lapses, overrides) and
every lead (an order from a website or CRM: who was given it, and why),
every stored booking with its proposed split (or its override), as frozen
values in time order. It is read in a handful of queries however many calls
the household has (the merged ids' two, read once for every part; the
ledger's three, the audit's one, the bookings' one, the leads' three, the
split report's five, its disputes among them), never one per call or per
booking. A family merged into this one brings its calls, changes, leads
and bookings with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from router.directory import audit, merges
from router.leads import store as leads
from router.routing import ledger
from router.splits import bookings, split_report
from router.splits.shares import format_amount
from router.storage.views import AuditView, iso


@dataclass(frozen=True, slots=True)
class CallEvent:
    """A routed call of the household, with its attempts."""

    at: datetime
    entry: ledger.LedgerEntry
    kind: str = "call"

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.entry.as_json()}


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """A change to the household: a link, move, merge, transfer, lapse, override..."""

    at: datetime
    entry: AuditView
    kind: str = "audit"

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.entry.as_json()}


@dataclass(frozen=True, slots=True)
class BookingEvent:
    """A booking at its closing time, with the split the policy proposes or the override."""

    at: datetime
    booking: bookings.BookingView
    split: split_report.BookingSplit
    kind: str = "booking"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": iso(self.at),
            **self.booking.as_json(),
            "split": self.split.as_json(),
        }


@dataclass(frozen=True, slots=True)
class LeadEvent:
    """A lead of the household: a touch, with the manager it was given to and why."""

    at: datetime
    lead: leads.LeadView
    kind: str = "lead"

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": iso(self.at), **self.lead.as_json()}


Event = CallEvent | AuditEvent | LeadEvent | BookingEvent
# Same instant: the change first (a household created by a call's answer), then a lead or a call,
# then a booking.
_ORDER = {"audit": 0, "lead": 1, "call": 2, "booking": 3}


@dataclass(frozen=True, slots=True)
class Timeline:
    household: int
    since: datetime | None
    until: datetime | None
    policy: str
    events: tuple[Event, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "household": self.household,
            "since": iso(self.since),
            "until": iso(self.until),
            "policy": self.policy,
            "events": [e.as_json() for e in self.events],
        }


def timeline(
    session: Session,
    household: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    policy: str = "equal",
    window_days: int = split_report.DEFAULT_WINDOW_DAYS,
    region: str,
    count_leads: bool = False,
) -> Timeline:
    """The household's events in [since, until), oldest first.

    A booking's split counts the calls of its own attribution window
    (`window_days` before closing), whatever the period shown; its leads
    earn shares only with `count_leads` (the setting `splits_count_leads`).
    """
    ids = merges.evidence_ids(session, [merges.survivor(session, household)])
    calls = ledger.entries(session, since=since, until=until, households=ids)
    changes = audit.trail(session, since=since, until=until, households=ids)
    sales = bookings.list_bookings(session, households=ids, since=since, until=until)
    orders = leads.list_leads(session, households=ids, since=since, until=until, limit=100_000)
    splits = split_report.report(
        session,
        [b.for_report() for b in sales],
        policy=policy,
        window_days=window_days,
        region=region,
        count_leads=count_leads,
    )
    events: list[Event] = [CallEvent(c.at, c) for c in calls]
    events.extend(AuditEvent(a.at, a) for a in changes)
    events.extend(LeadEvent(o.received_at, o) for o in orders)
    events.extend(BookingEvent(b.closed_at, b, s) for b, s in zip(sales, splits, strict=True))
    events.sort(key=lambda e: (e.at, _ORDER[e.kind]))
    return Timeline(household, since, until, policy, tuple(events))


CSV_COLUMNS = (
    "at",
    "kind",
    "call",
    "line",
    "office",
    "route",
    "agent",
    "status",
    "ring_seconds",
    "talk_seconds",
    "covering_for",
    "action",
    "subject",
    "before",
    "after",
    "booking",
    "amount",
    "policy",
    "percent",
    "reason",
    "actor",
)


def csv_rows(found: Timeline) -> Iterator[list[Any]]:
    """Flat rows: a call, then one per attempt; an audit event; a booking, then one per share."""
    yield list(CSV_COLUMNS)
    for event in found.events:
        for row in _rows(event):
            yield [row.get(c, "") for c in CSV_COLUMNS]


def _rows(event: Event) -> Iterator[dict[str, Any]]:
    if isinstance(event, CallEvent):
        e = event.entry
        call = {"call": e.call, "line": e.line, "office": e.office or "", "route": e.route}
        yield {"at": iso(e.at), "kind": "call", **call, "agent": e.answered_by or ""}
        for a in e.attempts:
            yield {
                "at": iso(a.started_at),
                "kind": "attempt",
                **call,
                "agent": a.agent or "",
                "status": a.status,
                "ring_seconds": a.ring_seconds,
                "talk_seconds": a.talk_seconds,
                "covering_for": a.covering_for or "",
                "reason": a.reason,
            }
    elif isinstance(event, LeadEvent):
        o = event.lead
        yield {
            "at": iso(o.received_at),
            "kind": "lead",
            "subject": f"{o.source}/{o.external_id}",
            "agent": o.assigned_to or "",
            "status": "provisional" if o.provisional else o.matched_by,
            "reason": o.reason,
            "actor": o.confirmed_by,
        }
    elif isinstance(event, AuditEvent):
        x = event.entry
        yield {
            "at": iso(x.at),
            "kind": "audit",
            "action": x.action,
            "subject": x.subject,
            "before": x.before,
            "after": x.after,
            "reason": x.reason,
            "actor": x.actor,
        }
    else:
        b, s = event.booking, event.split
        yield {
            "at": iso(b.closed_at),
            "kind": "booking",
            "booking": b.ref,
            "amount": format_amount(b.amount),
            "policy": s.policy,
            "reason": s.error or s.reason or "",
            "actor": s.override_by or "",
        }
        for share in s.shares:
            yield {
                "at": iso(b.closed_at),
                "kind": "share",
                "booking": b.ref,
                "agent": share.agent,
                "amount": format_amount(share.amount),
                "percent": share.percent,
                "policy": s.policy,
            }
