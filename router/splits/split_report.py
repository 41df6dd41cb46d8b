"""The split report: bookings from a CSV, evidence from the ledger, shares by policy.

Everything is read in bulk (households and overrides a few queries per 5,000
bookings, the answered calls in one pass; never a query per booking), so a
report over 100,000 bookings takes seconds. A bad row becomes a marked row of the report with its
reason; it never stops the others, and the report writes nothing.
"""

from __future__ import annotations

import bisect
import csv
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from identity.numbers import NumberKind, normalize
from router.directory import audit, co_owners, disputes, merges
from router.errors import Conflict, InvalidInput, NotFound
from router.routing.plan import ANSWER
from router.splits.shares import (
    CO_OWNERS,
    OVERRIDE,
    Contact,
    Share,
    check_override,
    format_amount,
    parse_amount,
    split,
)
from router.storage.db import utcnow
from router.storage.models import (
    Agent,
    Attempt,
    Decision,
    Household,
    Lead,
    Office,
    PhoneNumber,
    SplitOverride,
)
from router.storage.models import Booking as BookingRow
from router.storage.views import iso

COLUMNS = ("booking", "household", "amount", "closed_at")
FINAL = "final"
DISPUTED = "disputed"
DEFAULT_WINDOW_DAYS = 90
_CHUNK = 5000
# Above this many households, reading the window's answered calls once beats
# looking them up by id.
_FEW_HOUSEHOLDS = 500
_MAX_ID_DIGITS = 9


@dataclass(frozen=True, slots=True)
class Booking:
    line: int
    booking: str
    household: str
    amount: int | None = None
    closed_at: datetime | None = None
    error: str | None = None

    @property
    def where(self) -> str:
        """Where the booking came from, for its errors: its line in the file, or its reference."""
        return f"line {self.line}" if self.line else f"booking {self.booking}"


@dataclass(frozen=True, slots=True)
class LeadTouch:
    """A lead of the household in a booking's window: who was given it (evidence; a share only by setting)."""

    lead: int
    agent: str | None
    at: datetime
    provisional: bool

    def as_json(self) -> dict[str, Any]:
        return {"lead": self.lead, "agent": self.agent, "at": iso(self.at), "provisional": self.provisional}

    def contact(self) -> Contact | None:
        """The lead as a contact that earns a share (no talk time), when someone was assigned."""
        return Contact(f"lead:{self.lead}", self.agent, self.at, 0.0, None) if self.agent else None


@dataclass(frozen=True, slots=True)
class BookingSplit:
    booking: str
    household: int | None
    amount: int | None
    policy: str
    shares: tuple[Share, ...] = ()
    error: str | None = None
    reason: str | None = None
    # An override's author and time; None under a policy.
    override_by: str | None = None
    override_at: datetime | None = None
    # The household's leads in the booking's window, and who was assigned each.
    leads: tuple[LeadTouch, ...] = ()
    # `disputed` while a dispute over the family covers the booking (its
    # shares are only a proposal), else `final`; `dispute` names it.
    status: str = FINAL
    dispute: int | None = None
    # The offices of the managers in its evidence, when more than one: two offices
    # worked one family, which is how disputes start (flagged, never opened:
    # the report writes nothing).
    offices: tuple[str, ...] = ()
    # Split among the family's equal co-owners (policy `co-owners`): who they are.
    co_owners: tuple[str, ...] = ()
    # Why the policy could not split it, as raised (its key and values, for the console's
    # catalog); `error` is the same in English, after where the booking came from.
    failure: InvalidInput | None = field(default=None, compare=False)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "booking": self.booking,
            "household": self.household,
            "amount": None if self.amount is None else format_amount(self.amount),
            "policy": self.policy,
            "shares": [s.as_json() for s in self.shares],
        }
        if self.dispute is not None:  # a booking no dispute covers reads as it always did
            data["status"] = self.status
            data["dispute"] = self.dispute
        if self.offices:
            data["offices"] = list(self.offices)
        if self.co_owners:
            data["co_owners"] = list(self.co_owners)
        if self.reason is not None:
            data["reason"] = self.reason
        if self.override_by is not None:
            data["override_by"] = self.override_by
            data["override_at"] = iso(self.override_at)
        if self.leads:
            data["leads"] = [t.as_json() for t in self.leads]
        if self.error is not None:
            data["error"] = self.error
        return data


def read_bookings(path: Path) -> list[Booking]:
    """Rows of a bookings CSV; a file without the four columns is refused whole."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
            if missing:
                raise InvalidInput(f"{path}: missing column(s) {', '.join(missing)}")
            return [_booking(n, row) for n, row in enumerate(reader, start=2)]
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInput(f"{path}: not a readable CSV file ({exc})") from None


def _booking(line: int, row: dict[str, Any]) -> Booking:
    booking = (row.get("booking") or "").strip()
    household = (row.get("household") or "").strip()
    try:
        if not booking or not household:
            raise InvalidInput("booking and household cannot be empty")
        if None in row:
            raise InvalidInput("more cells than columns")
        amount = parse_amount(row.get("amount") or "")
        closed = datetime.fromisoformat((row.get("closed_at") or "").strip())
    except InvalidInput as exc:
        return Booking(line, booking, household, error=f"line {line}: {exc}")
    except ValueError:
        return Booking(line, booking, household, error=f"line {line}: closed_at is not an ISO 8601 time")
    closed = closed.replace(tzinfo=UTC) if closed.tzinfo is None else closed.astimezone(UTC)
    return Booking(line, booking, household, amount, closed)


def report(
    session: Session,
    bookings: Sequence[Booking],
    *,
    policy: str,
    window_days: int = DEFAULT_WINDOW_DAYS,
    since: datetime | None = None,
    until: datetime | None = None,
    region: str,
    count_leads: bool = False,
) -> list[BookingSplit]:
    """One split per booking closed in [since, until), in the file's order.

    The household's leads in a booking's window are listed as its evidence;
    with `count_leads` (the setting `splits_count_leads`) each assigned lead
    also counts as a contact of its agent, as an answered call does.
    """
    chosen = [
        b
        for b in bookings
        if b.closed_at is None
        or ((since is None or b.closed_at >= since) and (until is None or b.closed_at < until))
    ]
    refs = resolve_households(session, {b.household for b in chosen if b.error is None}, region)
    households = {h for h in refs.values() if h is not None}
    owners_of = _owners(session, households)
    owners = {h: o.owner for h, o in owners_of.items() if o.owner is not None}
    equal_owners = {h: o.equal for h, o in owners_of.items() if o.equal}
    owner_changes = audit.owners_before_changes(session, households)
    window = timedelta(days=window_days)
    closed = [b.closed_at for b in chosen if b.closed_at is not None and b.error is None]
    # A household's evidence is that of its id and of every id merged into it.
    counts_for = merges.evidence_ids(session, households) if closed else {}
    contacts = _contacts(session, households, counts_for, min(closed) - window, max(closed)) if closed else {}
    touches = _lead_touches(session, counts_for, min(closed) - window, max(closed)) if closed else {}
    overrides = _overrides(session, {b.booking for b in chosen})
    contests = _disputes(session, households)
    office_of = dict(
        session.execute(select(Agent.login, Office.code).join(Office, Office.id == Agent.office_id)).all()
    )
    seen: set[str] = set()
    results = []
    for b in chosen:
        duplicate = b.booking in seen
        seen.add(b.booking)
        household = refs.get(b.household)
        if b.error is not None or duplicate or household is None:
            error = b.error or (
                f"{b.where}: booking {b.booking} appears twice"
                if duplicate
                else f"{b.where}: no household {b.household}"
            )
            results.append(BookingSplit(b.booking, household, b.amount, policy, error=error))
            continue
        assert b.amount is not None and b.closed_at is not None
        calls = contacts.get(household, [])
        times = [c.at for c in calls]
        window_calls = calls[
            bisect.bisect_left(times, b.closed_at - window) : bisect.bisect_right(times, b.closed_at)
        ]
        leads = tuple(t for t in touches.get(household, []) if b.closed_at - window <= t.at <= b.closed_at)
        if count_leads:
            counted = [c for c in (t.contact() for t in leads) if c is not None]
            window_calls = sorted([*window_calls, *counted], key=lambda c: (c.at, c.call))
        override = overrides.get(b.booking)
        contest = _dispute_over(contests.get(household, []), b.closed_at, window)
        # A resolved dispute's policy is the supervisor's decision for the bookings it covered.
        chosen_policy = contest.policy if contest is not None and contest.policy else policy
        # Equal co-owners share equally by default; another policy says otherwise.
        sharing = equal_owners.get(household, ()) if chosen_policy == "equal" and not override else ()
        try:
            shares = split(
                b.amount,
                window_calls,
                chosen_policy,
                owner=audit.owner_at(owner_changes.get(household, []), owners.get(household), b.closed_at),
                override=override.shares if override else None,
                co_owners=sharing,
            )
        except InvalidInput as exc:
            results.append(
                BookingSplit(
                    b.booking,
                    household,
                    b.amount,
                    policy,
                    error=f"{b.where}: {exc}",
                    leads=leads,
                    failure=exc,
                )
            )
            continue
        results.append(
            BookingSplit(
                b.booking,
                household,
                b.amount,
                OVERRIDE if override else CO_OWNERS if sharing else chosen_policy,
                tuple(shares),
                reason=override.reason if override else None,
                override_by=override.actor if override else None,
                override_at=override.at if override else None,
                leads=leads,
                status=DISPUTED if contest is not None and contest.is_open and not override else FINAL,
                dispute=contest.id if contest is not None else None,
                offices=_offices_when_several(window_calls, office_of),
                co_owners=sharing,
            )
        )
    return results


def _offices_when_several(evidence: Sequence[Contact], office_of: dict[str, str]) -> tuple[str, ...]:
    """The offices of the managers in a booking's evidence if they are more than one, else nothing."""
    found = sorted({office_of.get(c.agent, "") for c in evidence} - {""})
    return tuple(found) if len(found) > 1 else ()


def _disputes(session: Session, households: set[int]) -> dict[int, list[disputes.DisputeView]]:
    """Every dispute over these households, by household."""
    found: dict[int, list[disputes.DisputeView]] = defaultdict(list)
    for chunk in _chunks(sorted(households)):
        for view in disputes.of_households(session, chunk):
            found[view.household].append(view)
    return found


def _dispute_over(
    contests: Sequence[disputes.DisputeView], closed_at: datetime, window: timedelta
) -> disputes.DisputeView | None:
    """The dispute whose period holds a booking closed at `closed_at`, if any.

    A dispute's period runs from one attribution window before it opened (the
    calls that led to the contest) to its resolution, or to now while open.
    """
    for contest in contests:
        if contest.opened_at - window <= closed_at and (
            contest.resolved_at is None or closed_at <= contest.resolved_at
        ):
            return contest
    return None


def save_override(
    session: Session,
    booking: str,
    shares: dict[str, Decimal],
    *,
    reason: str,
    actor: str,
    region: str,
    file_bookings: Sequence[Booking] = (),
) -> int:
    """Store an admin's split of one booking (replacing an earlier one), audited; returns its household.

    The booking must exist: stored (`booking add`, `booking import`) or in
    `file_bookings`, the file the report is run on. An override of a
    reference nothing knows would silently never apply.
    """
    booking = booking.strip()
    if not booking:
        raise InvalidInput("a booking id cannot be empty")
    if not reason.strip():
        raise InvalidInput("an override needs a reason")
    check_override(shares)
    household = _household_of_booking(session, booking, file_bookings, region)
    known = set(session.scalars(select(Agent.login).where(Agent.login.in_(list(shares)))))
    unknown = sorted(set(shares) - known)
    if unknown:
        raise NotFound(f"no agent {', '.join(unknown)}")
    stored = {login: str(p) for login, p in shares.items()}
    existing = session.get(SplitOverride, booking)
    before = json.dumps(existing.shares, sort_keys=True) if existing else ""
    if existing is None:
        session.add(SplitOverride(booking=booking, shares=stored, reason=reason.strip(), actor=actor))
    else:
        existing.shares, existing.reason, existing.actor = stored, reason.strip(), actor
        existing.at = utcnow()
    audit.record(
        session,
        OVERRIDE,
        household=household,
        subject=f"booking {booking}",
        before=before,
        after=json.dumps(stored, sort_keys=True),
        reason=reason.strip(),
        actor=actor,
    )
    session.flush()
    return household


def _household_of_booking(
    session: Session, booking: str, file_bookings: Sequence[Booking], region: str
) -> int:
    """The household of the booking `booking` names, stored or in the file; NotFound if neither."""
    stored = set(session.scalars(select(BookingRow.household_id).where(BookingRow.ref == booking)))
    if len(stored) > 1:
        raise Conflict(f"booking {booking} is stored for households {', '.join(map(str, sorted(stored)))}")
    if stored:
        return stored.pop()
    in_file = next((b for b in file_bookings if b.booking == booking and b.error is None), None)
    household = (
        resolve_households(session, {in_file.household}, region).get(in_file.household) if in_file else None
    )
    if household is None:
        where = (
            " nor in the bookings file"
            if file_bookings
            else " (add it with `booking add` or give --bookings FILE)"
        )
        raise NotFound(f"booking {booking} exists nowhere: it is not stored{where}")
    return household


def csv_rows(results: Iterable[BookingSplit]) -> Iterator[list[Any]]:
    """Flat rows, one per share (one per bad booking, with its error)."""
    yield ["booking", "household", "amount", "policy", "agent", "share", "percent", "calls",
           "talk_seconds", "error"]  # fmt: skip
    for r in results:
        amount = None if r.amount is None else format_amount(r.amount)
        if r.error is not None:
            yield [r.booking, r.household, amount, r.policy, "", "", "", "", "", r.error]
        for s in r.shares:
            talk = round(sum(c.talk_seconds for c in s.evidence), 3)
            yield [r.booking, r.household, amount, r.policy, s.agent, format_amount(s.amount),
                   s.percent, len(s.evidence), talk, ""]  # fmt: skip


def _chunks(items: Iterable[Any]) -> Iterator[list[Any]]:
    listed = list(items)
    for start in range(0, len(listed), _CHUNK):
        yield listed[start : start + _CHUNK]


def resolve_households(session: Session, refs: set[str], region: str) -> dict[str, int | None]:
    """Each household reference (an id or any of its numbers) to a household id, or None."""
    ids = {r: int(r) for r in refs if r.isdigit() and len(r) <= _MAX_ID_DIGITS}
    numbers: dict[str, str] = {}
    for ref in refs - set(ids):
        number = normalize(ref, region)
        if number.kind is NumberKind.E164:
            numbers[ref] = number.key
    found: set[int] = set()
    for chunk in _chunks(set(ids.values())):
        found.update(session.scalars(select(Household.id).where(Household.id.in_(chunk))))
    # A merged id names the household it was merged into.
    survivors = {i: merges.survivor(session, i) for i in set(ids.values()) - found}
    found.update(s for i, s in survivors.items() if s != i)
    ids.update({r: survivors[i] for r, i in ids.items() if i in survivors})
    by_number: dict[str, int] = {}
    for chunk in _chunks(set(numbers.values())):
        rows = session.execute(
            select(PhoneNumber.number, PhoneNumber.household_id).where(PhoneNumber.number.in_(chunk))
        )
        by_number.update((number, hid) for number, hid in rows)
    resolved: dict[str, int | None] = {r: (i if i in found else None) for r, i in ids.items()}
    resolved.update({r: by_number.get(k) for r, k in numbers.items()})
    return resolved


def _owners(session: Session, households: set[int]) -> dict[int, co_owners.Owners]:
    """Each household's owner and co-owners, a statement per chunk (co-owners cost none more)."""
    owners: dict[int, co_owners.Owners] = {}
    for chunk in _chunks(households):
        owners.update(co_owners.owners_of(session, chunk))
    return owners


def _contacts(
    session: Session, households: set[int], counts_for: dict[int, int], start: datetime, end: datetime
) -> dict[int, list[Contact]]:
    """Answered calls per household between `start` and `end`, oldest first.

    A few households are looked up by id; many are read in one pass over the
    window's answered calls, because a long `IN` list makes PostgreSQL test
    every decision row against the whole list.
    """
    agent, cover = aliased(Agent), aliased(Agent)
    query = (
        select(
            Decision.household_id,
            Decision.call_uid,
            agent.login,
            Attempt.started_at,
            Attempt.talk_seconds,
            cover.login,
        )
        .join(Decision, Decision.id == Attempt.decision_id)
        .join(agent, agent.id == Attempt.agent_id)
        .outerjoin(cover, cover.id == Attempt.covering_for_id)
        .where(Attempt.status == ANSWER, Attempt.started_at >= start, Attempt.started_at <= end)
    )
    if len(households) > _FEW_HOUSEHOLDS:
        queries = [query.where(Decision.household_id.is_not(None))]
    else:
        queries = [query.where(Decision.household_id.in_(chunk)) for chunk in _chunks(set(counts_for))]
    found: dict[int, list[Contact]] = defaultdict(list)
    for statement in queries:
        for household, call, login, at, talk, covering in session.execute(statement):
            if household in counts_for:
                found[counts_for[household]].append(Contact(call, login, at, float(talk), covering))
    for calls in found.values():
        calls.sort(key=lambda c: (c.at, c.call))
    return found


def _lead_touches(
    session: Session, counts_for: dict[int, int], start: datetime, end: datetime
) -> dict[int, list[LeadTouch]]:
    """Leads per household (and of the households merged into it) between `start` and `end`, oldest first."""
    found: dict[int, list[LeadTouch]] = defaultdict(list)
    for chunk in _chunks(set(counts_for)):
        rows = session.execute(
            select(Lead.household_id, Lead.id, Agent.login, Lead.received_at, Lead.provisional)
            .outerjoin(Agent, Agent.id == Lead.assigned_agent_id)
            .where(Lead.household_id.in_(chunk), Lead.received_at >= start, Lead.received_at <= end)
        )
        for household, lead, login, at, provisional in rows:
            assert household is not None  # selected by household
            found[counts_for[household]].append(LeadTouch(lead, login, at, bool(provisional)))
    for touches in found.values():
        touches.sort(key=lambda t: (t.at, t.lead))
    return found


@dataclass(frozen=True, slots=True)
class Override:
    """An admin's split of one booking as stored: percentages by login, why, who and when."""

    shares: dict[str, Decimal]
    reason: str
    actor: str
    at: datetime


def _overrides(session: Session, bookings: set[str]) -> dict[str, Override]:
    found: dict[str, Override] = {}
    for chunk in _chunks(bookings):
        for row in session.scalars(select(SplitOverride).where(SplitOverride.booking.in_(chunk))):
            shares = {a: Decimal(str(p)) for a, p in row.shares.items()}
            found[row.booking] = Override(shares, row.reason, row.actor, row.at)
    return found
