"""Bookings kept in the database: added by hand, imported from CSV, listed, and split.

A booking is named by its reference in its source (a CRM, a booking form, a
file): unique there, so importing the same file twice is refused instead of
counting the sale twice. Amounts are kopecks. An import is all or nothing,
like `household import`: every bad row is reported and nothing is written.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from router.directory import household_reads
from router.errors import N_, Conflict, InvalidInput, NotFound
from router.splits import split_report
from router.splits.shares import format_amount
from router.storage.models import Booking as BookingRow
from router.storage.views import iso

MANUAL = "manual"
IMPORTED = "import"
_REPORTED_ERRORS = 50


@dataclass(frozen=True, slots=True)
class BookingView:
    id: int
    household: int
    source: str
    ref: str
    amount: int
    closed_at: datetime
    note: str
    added_by: str
    added_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "household": self.household,
            "source": self.source,
            "ref": self.ref,
            "amount": format_amount(self.amount),
            "closed_at": iso(self.closed_at),
            "note": self.note,
            "added_by": self.added_by,
            "added_at": iso(self.added_at),
        }

    def for_report(self) -> split_report.Booking:
        """This booking as the split report takes one (line 0: not from a file)."""
        return split_report.Booking(0, self.ref, str(self.household), self.amount, self.closed_at)


def add_booking(
    session: Session,
    household: int,
    *,
    ref: str,
    amount: int,
    closed_at: datetime,
    actor: str,
    note: str = "",
    source: str = MANUAL,
) -> BookingView:
    """Store one booking of an existing household; a reference already in `source` is a conflict."""
    household_reads.get_household(session, household)
    ref, source = _required(ref, N_("reference")), _required(source, N_("source"))
    if amount < 0:
        raise InvalidInput(N_("an amount must be zero or more"))
    if session.scalar(select(BookingRow.id).where(BookingRow.source == source, BookingRow.ref == ref)):
        raise Conflict(N_("booking %(ref)s of source %(source)s is already stored"), ref=ref, source=source)
    row = BookingRow(
        household_id=household,
        source=source,
        ref=ref,
        amount=amount,
        closed_at=closed_at,
        note=note.strip(),
        added_by=actor,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            N_("booking %(ref)s of source %(source)s was stored by someone else at the same moment"),
            ref=ref,
            source=source,
        ) from None
    return _view(row)


def import_bookings(session: Session, path: Path, *, region: str, actor: str, source: str = IMPORTED) -> int:
    """Store every booking of a bookings CSV (the `splits --bookings` format), or none of them."""
    source = _required(source, "source")
    rows = split_report.read_bookings(path)
    households = split_report.resolve_households(
        session, {r.household for r in rows if r.error is None}, region
    )
    stored = _stored_refs(session, source, {r.booking for r in rows})
    errors: list[str] = []
    seen: set[str] = set()
    for r in rows:
        if r.error is not None:
            errors.append(r.error)
        elif households.get(r.household) is None:
            errors.append(f"line {r.line}: no household {r.household}")
        elif r.booking in seen:
            errors.append(f"line {r.line}: booking {r.booking} appears twice")
        elif r.booking in stored:
            errors.append(f"line {r.line}: booking {r.booking} of source {source} is already stored")
        seen.add(r.booking)
    if errors:
        shown = "\n".join(errors[:_REPORTED_ERRORS])
        more = f"\n... and {len(errors) - _REPORTED_ERRORS} more" if len(errors) > _REPORTED_ERRORS else ""
        raise InvalidInput(f"{path}: {len(errors)} bad row(s), nothing imported:\n{shown}{more}")
    for r in rows:
        assert r.amount is not None and r.closed_at is not None
        session.add(
            BookingRow(
                household_id=households[r.household],
                source=source,
                ref=r.booking,
                amount=r.amount,
                closed_at=r.closed_at,
                added_by=actor,
            )
        )
    session.flush()
    return len(rows)


def list_bookings(
    session: Session,
    *,
    household: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    households: Collection[int] | None = None,
) -> list[BookingView]:
    """Bookings by closing time, of one household (or of any of `households`) closed in [since, until)."""
    query = select(BookingRow).order_by(BookingRow.closed_at, BookingRow.id)
    if household is not None:
        query = query.where(BookingRow.household_id == household)
    if households is not None:
        query = query.where(BookingRow.household_id.in_(list(households)))
    if since is not None:
        query = query.where(BookingRow.closed_at >= since)
    if until is not None:
        query = query.where(BookingRow.closed_at < until)
    return [_view(row) for row in session.scalars(query)]


def get_booking(session: Session, booking_id: int) -> BookingView:
    """One stored booking by its id; NotFound when there is none."""
    row = session.get(BookingRow, booking_id)
    if row is None:
        raise NotFound(N_("no booking %(booking)s"), booking=booking_id)
    return _view(row)


def households_of(session: Session, ref: str) -> list[int]:
    """The households of the stored bookings with this reference (in any source)."""
    return list(session.scalars(select(BookingRow.household_id).where(BookingRow.ref == ref.strip())))


def _stored_refs(session: Session, source: str, refs: set[str]) -> set[str]:
    found: set[str] = set()
    listed = sorted(refs)
    for start in range(0, len(listed), 5000):
        chunk = [(source, ref) for ref in listed[start : start + 5000]]
        found.update(
            session.scalars(
                select(BookingRow.ref).where(tuple_(BookingRow.source, BookingRow.ref).in_(chunk))
            )
        )
    return found


def _required(text: str, what: str) -> str:
    if not text.strip():
        raise InvalidInput(N_("a booking's %(what)s cannot be empty"), what=what)
    return text.strip()


def _view(row: BookingRow) -> BookingView:
    return BookingView(
        id=row.id,
        household=row.household_id,
        source=row.source,
        ref=row.ref,
        amount=row.amount,
        closed_at=row.closed_at,
        note=row.note,
        added_by=row.added_by,
        added_at=row.added_at,
    )
