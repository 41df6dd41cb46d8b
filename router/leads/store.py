"""Taking a lead in: checked, stored once, given to a manager, queued for its CRM.

`submit` is what the API and `lead add` call. A lead is one row per
(source, external_id), and per (source, Idempotency-Key) when one is sent:
the row is inserted first in the lead's transaction, so a repeat, even a
concurrent one, meets the unique key, rolls back whatever it had begun, and
answers with the first lead (`created` False). A family created by a lead
is a household like any other (origin `lead`, audited); a provisional match
waits for a person (`confirm` links the number, `reject` gives the lead a
family of its own, which also keeps the pair from being suggested again).

Taking a lead in is the API's hot path: its statements are prepared
(`router.storage.prepared`) and run on the session's connection, no ORM
object is made, and the lead's row is written once, after the decision.
A concurrent repeat then meets the unique key at that insert (or, for a new
family, at its number's) and rolls back whole, as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from identity.index import SuggestionIndex
from identity.matching import email_key
from identity.records import HouseholdRecord
from router.config import Settings
from router.directory import audit, household_reads, households, name_index
from router.errors import Conflict, InvalidInput, NotFound
from router.leads import assign
from router.leads.values import InvalidLead, LeadIn
from router.storage.db import Database, utcnow
from router.storage.models import (
    Agent,
    Household,
    Lead,
    LeadSource,
    Member,
    PhoneNumber,
    WebhookDelivery,
)
from router.storage.prepared import Prepared

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
    address: str = ""

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
        # `;` (the household CSV's separator) cannot be in a member's name; an order is never refused for it.
        name=" ".join(lead.name.replace(";", ",").split()),
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
            # Another submission of the same lead committed first, or (a new
            # family) another lead linked the same new number first.
            with db.read_transaction() as connection:
                source_row = _SOURCE.first(connection, {"name": source})
                found = _existing(connection, source_row, checked) if source_row is not None else None
            if found is not None:
                return found, False
            if attempt:
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
    connection = session.connection()
    source_row = _SOURCE.first(connection, {"name": source})
    if source_row is None:
        raise NotFound(f"no active source {source!r} (add one with: token add {source})")
    existing = _existing(connection, source_row, lead)
    if existing is not None:
        return existing, False
    now = now or utcnow()
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
    agent_id = _AGENT_ID.scalar(connection, {"login": manager.login}) if manager.login else None
    household_id = family.household_id
    if household_id is None:
        owner = (
            (int(agent_id), manager.login)
            if settings.lead_sets_owner and agent_id is not None and manager.login
            else None
        )
        household_id = _new_family(connection, lead, owner, source, now)
    suggestion = family.suggestion
    values = {
        "source_id": source_row[0],
        "external_id": lead.external_id,
        "idempotency_key": lead.idempotency_key,
        "phone": lead.phone,
        "name": lead.name,
        "email": lead.email,
        "address": lead.address,
        "line": lead.line,
        "office": lead.office,
        "note": lead.note,
        "created_at": lead.created_at,
        "received_at": now,
        "household_id": household_id,
        "assigned_agent_id": agent_id,
        "matched_by": family.matched_by,
        "reason": manager.reason,
        "provisional": suggestion is not None,
        "score": suggestion.score if suggestion is not None else None,
        "evidence": "; ".join(suggestion.reasons) if suggestion is not None else "",
        "duplicate_of": manager.duplicate_of,
        "confirmed_by": "",
    }
    lead_id = _INSERT_LEAD.scalar(connection, values)
    result = _stored_view((lead_id, source_row[1], manager.login, *(values[c] for c in _VIEW_COLUMNS)))
    webhook_url = source_row[2]
    if webhook_url:
        _INSERT_DELIVERY.rowcount(
            connection,
            {
                "lead_id": lead_id,
                "body": json.dumps(result.reply()),
                "tries": 0,
                "next_at": now,
                "last_error": "",
                "dead": False,
            },
        )
    return result, True


def new_family_record(view: LeadView, settings: Settings) -> HouseholdRecord:
    """The family a new lead made (`matched_by` new), as the suggestion index holds it.

    What `router.directory.suggestions.household_record` would read back,
    built from the lead instead: the API adds it to its index after each
    new family without reading the family again.
    """
    assert view.household is not None
    return HouseholdRecord(
        id=view.household,
        owner=view.assigned_to if settings.lead_sets_owner else None,
        members=(view.name,) if view.name else (),
        numbers=(view.phone,) if view.phone else (),
        email=view.email,
        address=view.address,
    )


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
    row.household_id = _own_family(session, lead, owner, row.source.name)
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
        address=row.address,
    )


def _existing(connection: Connection, source_row: tuple[Any, ...], lead: LeadIn) -> LeadView | None:
    """The lead already taken for this (source, external_id) or (source, Idempotency-Key)."""
    row = _EXISTING.first(
        connection,
        {"source_id": source_row[0], "external_id": lead.external_id, "key": lead.idempotency_key},
    )
    return None if row is None else _stored_view((row[0], source_row[1], *row[1:]))


def _stored_view(row: tuple[Any, ...]) -> LeadView:
    """A lead's view from its id, its source's name, its agent's login and `_VIEW_COLUMNS`."""
    lead_id, source, login, external_id, received_at, household_id, matched_by, reason = row[:8]
    provisional, duplicate_of, score, evidence, phone, name, email, note, confirmed_by, address = row[8:]
    return LeadView(
        lead=lead_id,
        source=source.split("~")[0],
        external_id=external_id,
        received_at=received_at,
        household=household_id,
        assigned_to=login,
        matched_by=matched_by,
        reason=reason,
        provisional=bool(provisional),
        duplicate_of=duplicate_of,
        suggestion={"score": score, "reasons": evidence.split("; ") if evidence else []}
        if score is not None
        else None,
        phone=phone,
        name=name,
        email=email,
        note=note,
        confirmed_by=confirmed_by,
        address=address,
    )


def _provisional(session: Session, lead_id: int) -> Lead:
    row = session.get(Lead, lead_id)
    if row is None:
        raise NotFound(f"no lead {lead_id}")
    if not row.provisional:
        raise Conflict(f"lead {lead_id} is not waiting for confirmation")
    return row


def _new_family(
    connection: Connection, lead: LeadIn, owner: tuple[int, str] | None, source: str, now: datetime
) -> int:
    """A new lead's family (origin `lead`, audited), written as `households.add_household` writes one."""
    household_id = int(
        _INSERT_HOUSEHOLD.scalar(
            connection,
            {
                "name": lead.name,
                "owner_id": owner[0] if owner else None,
                "email": lead.email,
                "address": lead.address,
                "origin": "lead",
                "created_at": now,
                "last_contact_at": None,
            },
        )
    )
    if lead.name:
        _INSERT_MEMBER.rowcount(
            connection, {"household_id": household_id, "position": 0, "full_name": lead.name}
        )
    members = [lead.name] if lead.name else []
    name_index.write(connection, name_index.rows(household_id, lead.name, members))
    if lead.phone:
        try:
            _INSERT_NUMBER.rowcount(
                connection, {"number": lead.phone, "household_id": household_id, "label": "mobile"}
            )
        except IntegrityError:
            raise Conflict(f"number {lead.phone} was linked by someone else at the same moment") from None
    audit.record(
        connection,
        "create",
        household=household_id,
        after=f"owner={owner[1] if owner else '-'} numbers={lead.phone or '-'}",
        actor=f"lead:{source}",
    )
    return household_id


def _own_family(session: Session, lead: LeadIn, owner: str | None, source: str) -> int:
    """A rejected match's family of its own, by the admin path (a number taken meanwhile is refused)."""
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


_SOURCE = Prepared(
    select(LeadSource.id, LeadSource.name, LeadSource.webhook_url).where(
        LeadSource.name == bindparam("name"), LeadSource.revoked_at.is_(None)
    )
)
# What a lead's view reads beside its id, source and agent, in `_stored_view`'s order.
_VIEW_COLUMNS = (
    "external_id",
    "received_at",
    "household_id",
    "matched_by",
    "reason",
    "provisional",
    "duplicate_of",
    "score",
    "evidence",
    "phone",
    "name",
    "email",
    "note",
    "confirmed_by",
    "address",
)
# A repeat: `idempotency_key = NULL` matches nothing, so one statement serves leads with and without a key.
_EXISTING = Prepared(
    select(Lead.id, Agent.login, *(Lead.__table__.c[c] for c in _VIEW_COLUMNS))
    .outerjoin(Agent, Agent.id == Lead.assigned_agent_id)
    .where(
        Lead.source_id == bindparam("source_id"),
        or_(Lead.external_id == bindparam("external_id"), Lead.idempotency_key == bindparam("key")),
    )
    .order_by(Lead.id)
    .limit(1)
)
_AGENT_ID = Prepared(select(Agent.id).where(Agent.login == bindparam("login")))
_LEAD_COLUMNS = (
    "source_id",
    "external_id",
    "idempotency_key",
    "phone",
    "name",
    "email",
    "address",
    "line",
    "office",
    "note",
    "created_at",
    "received_at",
    "household_id",
    "assigned_agent_id",
    "matched_by",
    "reason",
    "provisional",
    "score",
    "evidence",
    "duplicate_of",
    "confirmed_by",
)
_INSERT_LEAD = Prepared(insert(Lead).returning(Lead.id), columns=_LEAD_COLUMNS)
_INSERT_DELIVERY = Prepared(
    insert(WebhookDelivery), columns=("lead_id", "body", "tries", "next_at", "last_error", "dead")
)
_INSERT_HOUSEHOLD = Prepared(
    insert(Household).returning(Household.id),
    columns=("name", "owner_id", "email", "address", "origin", "created_at", "last_contact_at"),
)
_INSERT_MEMBER = Prepared(insert(Member), columns=("household_id", "position", "full_name"))
_INSERT_NUMBER = Prepared(insert(PhoneNumber), columns=("number", "household_id", "label"))
