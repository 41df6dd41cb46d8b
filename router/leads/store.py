"""Taking a lead in: checked, stored once, given to a manager, queued for its CRM.

`submit` is what the API and `lead add` call. A lead is one row per
(source, external_id), and per (source, Idempotency-Key) when one is sent:
the row is inserted first in the lead's transaction, so a repeat, even a
concurrent one, meets the unique key, rolls back whatever it had begun, and
answers with the first lead (`created` False). A family created by a lead
is a household like any other (origin `lead`, audited); a provisional match
waits for a person (`confirm` links the number, `reject` gives the lead a
family of its own, which also keeps the pair from being suggested again).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from identity.index import SuggestionIndex
from identity.matching import email_key
from router.config import Settings
from router.directory import household_reads, households
from router.errors import Conflict, InvalidInput, NotFound
from router.leads import assign
from router.leads.values import InvalidLead, LeadIn
from router.storage.db import Database, utcnow
from router.storage.models import Agent, Lead, LeadSource, WebhookDelivery

# What a lead's fields may hold (the API answers 422 past these).
LIMITS = {
    "external_id": 100,
    "name": 200,
    "email": 200,
    "address": 400,
    "line": 64,
    "office": 64,
    "note": 4000,
}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True, slots=True)
class LeadView:
    lead: int
    source: str
    external_id: str
    received_at: datetime
    household: int | None
    assigned_to: str | None
    matched_by: str
    reason: str
    provisional: bool
    duplicate_of: int | None
    suggestion: dict[str, Any] | None
    phone: str = ""
    name: str = ""
    email: str = ""
    note: str = ""
    confirmed_by: str = ""

    def reply(self) -> dict[str, Any]:
        """The API's answer: who has the lead, why, and what is still to confirm."""
        return {
            "lead": self.lead,
            "household": self.household,
            "assigned_to": self.assigned_to,
            "matched_by": self.matched_by,
            "reason": self.reason,
            "provisional": self.provisional,
            "duplicate_of": self.duplicate_of,
            "suggestion": self.suggestion,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            **self.reply(),
            "source": self.source,
            "external_id": self.external_id,
            "received_at": self.received_at.isoformat(),
            "phone": self.phone,
            "name": self.name,
            "email": self.email,
            "note": self.note,
            "confirmed_by": self.confirmed_by or None,
        }


def check(lead: LeadIn, region: str) -> LeadIn:
    """The lead with its phone normalized to E.164 and its email folded; every bad field named."""
    bad: dict[str, str] = {}
    if not lead.external_id.strip():
        bad["external_id"] = "required"
    for name, limit in LIMITS.items():
        if len(getattr(lead, name)) > limit:
            bad[name] = f"longer than {limit} characters"
    phone = ""
    if lead.phone.strip():
        try:
            phone = household_reads.parse_number(lead.phone, region).key
        except InvalidInput:
            bad["phone"] = f"{lead.phone!r} is not a valid phone number"
    email = email_key(lead.email)
    if email and not _EMAIL.fullmatch(email):
        bad["email"] = f"{lead.email!r} is not an email address"
    if not phone and not email and "phone" not in bad and "email" not in bad:
        bad["phone"] = "a lead needs a phone or an email"
    if bad:
        raise InvalidLead(bad)
    return LeadIn(
        external_id=lead.external_id.strip(),
        phone=phone,
        name=" ".join(lead.name.split()),
        email=email,
        address=" ".join(lead.address.split()),
        line=lead.line.strip(),
        office=lead.office.strip(),
        note=lead.note.strip(),
        created_at=lead.created_at,
        idempotency_key=(lead.idempotency_key or "").strip() or None,
    )


def submit(
    db: Database,
    source: str,
    lead: LeadIn,
    *,
    settings: Settings,
    index: SuggestionIndex | None = None,
    auto_threshold: int | None = None,
) -> tuple[LeadView, bool]:
    """Take one lead in its own transaction; (the lead, whether it is new).

    `auto_threshold` defaults to the `suggest_auto_threshold` setting (the
    calibrated score right 98 % of the time); without an `index`
    no suggestion is made (the lead matches by number or email, else is new).
    """
    checked = check(lead, settings.region)
    for attempt in range(2):
        try:
            with db.unit_of_work() as s:
                return submit_in(
                    s, source, checked, settings=settings, index=index, auto_threshold=auto_threshold
                )
        except IntegrityError:
            # Another submission of the same lead committed first.
            with db.reader() as s:
                found = _existing(s, get_source_id(s, source), checked)
                if found is not None:
                    return view(found), False
            raise
        except Conflict:
            # A concurrent lead linked the same new number first: decide again, it is now that family's.
            if attempt:
                raise
    raise AssertionError("unreachable")


def submit_in(
    session: Session,
    source: str,
    lead: LeadIn,
    *,
    settings: Settings,
    index: SuggestionIndex | None = None,
    auto_threshold: int | None = None,
    now: datetime | None = None,
) -> tuple[LeadView, bool]:
    """`submit` inside the caller's transaction, for an already `check`ed lead (`lead import`)."""
    source_row = _source(session, source)
    existing = _existing(session, source_row.id, lead)
    if existing is not None:
        return view(existing), False
    now = now or utcnow()
    row = Lead(
        source_id=source_row.id,
        external_id=lead.external_id,
        idempotency_key=lead.idempotency_key,
        phone=lead.phone,
        name=lead.name,
        email=lead.email,
        address=lead.address,
        line=lead.line,
        office=lead.office,
        note=lead.note,
        created_at=lead.created_at,
        received_at=now,
    )
    session.add(row)
    session.flush()
    threshold = settings.suggest_auto_threshold if auto_threshold is None else auto_threshold
    family = assign.find_family(session, lead, index=index, auto_threshold=threshold)
    manager = assign.find_manager(
        session,
        family,
        line=lead.line,
        office=lead.office,
        default_office=settings.default_office,
        region=settings.region,
        now=now,
        seed=f"{source}/{lead.external_id}",
        duplicate_hours=settings.lead_duplicate_hours,
        lapse_days=settings.ownership_lapse_days,
    )
    household_id = family.household_id
    if household_id is None:
        household_id = _new_family(session, lead, manager.login if settings.lead_sets_owner else None, source)
    row.household_id = household_id
    row.assigned_agent = _agent(session, manager.login)
    row.matched_by = family.matched_by
    row.reason = manager.reason
    row.duplicate_of = manager.duplicate_of
    if family.suggestion is not None:
        row.provisional = True
        row.score = family.suggestion.score
        row.evidence = "; ".join(family.suggestion.reasons)
    session.flush()
    result = view(row)
    if source_row.webhook_url:
        session.add(WebhookDelivery(lead_id=row.id, body=json.dumps(result.reply()), next_at=now))
    return result, True


def list_leads(
    session: Session,
    *,
    household: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    provisional: bool = False,
    source: str | None = None,
    agent: str | None = None,
    limit: int = 1000,
    households: Collection[int] | None = None,
) -> list[LeadView]:
    """Leads newest first; `provisional` keeps only the matches waiting for a person.

    `households`: the leads of any of these ids (a family with the ids merged into it).
    """
    query = (
        select(Lead)
        .options(selectinload(Lead.source), selectinload(Lead.assigned_agent))
        .order_by(Lead.received_at.desc(), Lead.id.desc())
        .limit(limit)
    )
    if source:
        query = query.where(Lead.source_id.in_(select(LeadSource.id).where(LeadSource.name == source)))
    if agent:
        query = query.where(Lead.assigned_agent_id.in_(select(Agent.id).where(Agent.login == agent)))
    if household is not None:
        query = query.where(Lead.household_id == household)
    if households is not None:
        query = query.where(Lead.household_id.in_(list(households)))
    if since is not None:
        query = query.where(Lead.received_at >= since)
    if until is not None:
        query = query.where(Lead.received_at < until)
    if provisional:
        query = query.where(Lead.provisional.is_(True))
    return [view(row) for row in session.scalars(query)]


def confirm(session: Session, lead_id: int, *, actor: str) -> LeadView:
    """A person agrees the lead is that family's: its number is linked there (audited)."""
    row = _provisional(session, lead_id)
    assert row.household_id is not None
    if row.phone:
        households.link(
            session, row.phone, row.household_id, label="other", actor=actor, reason=f"lead {row.id}"
        )
    row.provisional = False
    row.confirmed_at = utcnow()
    row.confirmed_by = actor
    session.flush()
    return view(row)


def reject(session: Session, lead_id: int, *, actor: str, settings: Settings) -> LeadView:
    """Not that family: the lead gets a family of its own, owned as a new lead's would be."""
    row = _provisional(session, lead_id)
    owner = row.assigned_agent.login if row.assigned_agent is not None and settings.lead_sets_owner else None
    lead = LeadIn(row.external_id, row.phone, row.name, row.email, row.address)
    row.household_id = _new_family(session, lead, owner, row.source.name)
    row.matched_by = assign.NEW_FAMILY
    row.provisional = False
    row.confirmed_at = utcnow()
    row.confirmed_by = actor
    row.evidence = f"rejected: {row.evidence}"
    session.flush()
    return view(row)


def view(row: Lead) -> LeadView:
    suggestion = (
        {"score": row.score, "reasons": row.evidence.split("; ") if row.evidence else []}
        if row.score is not None
        else None
    )
    return LeadView(
        lead=row.id,
        source=row.source.name.split("~")[0],
        external_id=row.external_id,
        received_at=row.received_at,
        household=row.household_id,
        assigned_to=row.assigned_agent.login if row.assigned_agent is not None else None,
        matched_by=row.matched_by,
        reason=row.reason,
        provisional=row.provisional,
        duplicate_of=row.duplicate_of,
        suggestion=suggestion,
        phone=row.phone,
        name=row.name,
        email=row.email,
        note=row.note,
        confirmed_by=row.confirmed_by,
    )


def get_source_id(session: Session, name: str) -> int:
    return _source(session, name).id


def _source(session: Session, name: str) -> LeadSource:
    found = session.scalar(select(LeadSource).where(LeadSource.name == name, LeadSource.revoked_at.is_(None)))
    if found is None:
        raise NotFound(f"no active source {name!r} (add one with: token add {name})")
    return found


def _existing(session: Session, source_id: int, lead: LeadIn) -> Lead | None:
    same = Lead.external_id == lead.external_id
    if lead.idempotency_key:
        same = or_(same, Lead.idempotency_key == lead.idempotency_key)
    return session.scalar(select(Lead).where(Lead.source_id == source_id, same).order_by(Lead.id).limit(1))


def _provisional(session: Session, lead_id: int) -> Lead:
    row = session.get(Lead, lead_id)
    if row is None:
        raise NotFound(f"no lead {lead_id}")
    if not row.provisional:
        raise Conflict(f"lead {lead_id} is not waiting for confirmation")
    return row


def _new_family(session: Session, lead: LeadIn, owner: str | None, source: str) -> int:
    numbers = [household_reads.NumberSpec(lead.phone)] if lead.phone else []
    return households.add_household(
        session,
        name=lead.name,
        members=[lead.name] if lead.name else [],
        numbers=numbers,
        owner=owner,
        email=lead.email,
        address=lead.address,
        actor=f"lead:{source}",
        origin="lead",
    ).id


def _agent(session: Session, login: str | None) -> Agent | None:
    return session.scalar(select(Agent).where(Agent.login == login)) if login else None
