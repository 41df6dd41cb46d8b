"""Household suggestions over the directory: which family an unlinked caller belongs to.

The matching itself is `identity.index.SuggestionIndex`, pure and in memory;
this module fills it from the database with three bulk Core queries (no ORM
object per row, so a million households load in seconds), keeps it current
when a household changes (`refresh`), and turns an admin's "yes" into the
foundation's audited link. Routing never reads suggestions: only confirmed
links route.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.index import SuggestionIndex
from identity.matching import DEFAULT_THRESHOLD, SHOW_THRESHOLD
from identity.records import HouseholdRecord, Pair, Query, Suggestion
from router.directory import audit, household_reads, households
from router.errors import Conflict, InvalidInput
from router.storage.db import utcnow
from router.storage.models import Agent, Decision, Household, Member, PhoneNumber, SuggestionRejection
from router.storage.views import HouseholdView

log = logging.getLogger(__name__)

# Rows fetched per round trip while loading the index.
_BATCH = 20_000
# Behaviour: a caller's number calling a line this soon after a family's number did,
# among the caller's calls of the last days (the newest few).
CALLED_AFTER_WINDOW = timedelta(minutes=10)
_BEHAVIOUR_DAYS = 7
_BEHAVIOUR_CALLS = 20


@dataclass(frozen=True, slots=True)
class RecentMatch:
    """A household the router created from a call, and its best existing match (or None)."""

    household: HouseholdRecord
    created_at: datetime
    match: Suggestion | None


# The audit's action for a pair a person said is not one family.
REJECT = "suggestion-reject"
# Where a queued suggestion comes from: a family a call created, or two existing families.
FROM_CALL, PAIR = "call", "pair"


@dataclass(frozen=True, slots=True)
class Queued:
    """One suggestion waiting for a person: `other` probably belongs to `keep`.

    `keep` is the family that stays (the existing one a new family looks
    like, or the older of a pair); `other` would be merged into it.
    """

    keep: int
    other: int
    score: int
    reasons: tuple[str, ...]
    kind: str
    created_at: datetime | None = None

    @property
    def pair(self) -> tuple[int, int]:
        return ordered(self.keep, self.other)


def ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def load_index(session: Session, kind: type[SuggestionIndex] = SuggestionIndex) -> SuggestionIndex:
    """The index of every household in the directory, read in three bulk queries.

    `kind` is the index class to fill (the web process's is locked for its threads).

    A process that keeps the index for hours should call `gc.freeze()` once it
    is loaded (as the benchmark does), so that the collector stops walking it.
    """
    members: dict[int, list[str]] = defaultdict(list)
    for household_id, full_name in session.execute(
        select(Member.household_id, Member.full_name)
        .order_by(Member.household_id, Member.position, Member.id)
        .execution_options(yield_per=_BATCH)
    ):
        members[household_id].append(full_name)
    numbers: dict[int, list[str]] = defaultdict(list)
    for household_id, number in session.execute(
        select(PhoneNumber.household_id, PhoneNumber.number)
        .order_by(PhoneNumber.household_id, PhoneNumber.id)
        .execution_options(yield_per=_BATCH)
    ):
        numbers[household_id].append(number)
    rows = session.execute(
        select(Household.id, Agent.login, Household.email, Household.address)
        .outerjoin(Agent, Agent.id == Household.owner_id)
        .order_by(Household.id)
        .execution_options(yield_per=_BATCH)
    )
    index = kind.build(
        HouseholdRecord(
            id=household_id,
            owner=owner,
            members=tuple(members.pop(household_id, ())),
            numbers=tuple(numbers.pop(household_id, ())),
            email=email or "",
            address=address or "",
        )
        for household_id, owner, email, address in rows
    )
    log.info("suggestion index loaded: %d households", len(index))
    return index


def household_record(session: Session, household_id: int) -> HouseholdRecord | None:
    """One household as the index sees it, or None when it no longer exists."""
    row = session.execute(
        select(Household.id, Agent.login, Household.email, Household.address)
        .outerjoin(Agent, Agent.id == Household.owner_id)
        .where(Household.id == household_id)
    ).first()
    if row is None:
        return None
    members = session.scalars(
        select(Member.full_name)
        .where(Member.household_id == household_id)
        .order_by(Member.position, Member.id)
    )
    numbers = session.scalars(
        select(PhoneNumber.number).where(PhoneNumber.household_id == household_id).order_by(PhoneNumber.id)
    )
    return HouseholdRecord(
        id=row[0],
        owner=row[1],
        members=tuple(members),
        numbers=tuple(numbers),
        email=row[2] or "",
        address=row[3] or "",
    )


def refresh(session: Session, index: SuggestionIndex, household_id: int) -> None:
    """Bring one household of the index up to date after it changed, or drop it if it is gone."""
    record = household_record(session, household_id)
    if record is None:
        index.remove(household_id)
    else:
        index.update(record)


def suggest_for_caller(
    session: Session,
    index: SuggestionIndex,
    number: str,
    *,
    name: str | Sequence[str] = "",
    email: str = "",
    address: str = "",
    limit: int = 5,
    min_score: int = SHOW_THRESHOLD,
) -> list[Suggestion]:
    """Households a caller probably belongs to, best first.

    `number` is a normalized key (E.164, or "" for an anonymous caller);
    `name` is the caller's name, or several names (the caller and the spouse
    they mention). A number already linked is the same number, not a
    suggestion: that is a Conflict naming the household it belongs to.
    """
    if limit < 1:
        raise InvalidInput(f"limit must be at least 1, not {limit}")
    if number:
        owner = household_reads.lookup(session, number)
        if owner is not None:
            raise Conflict(
                f"number {number} already belongs to household {owner.household_id} "
                f"(owner {owner.owner_login or 'none'}): nothing to suggest"
            )
    query = Query(
        numbers=(number,) if number else (),
        names=tuple(n for n in ((name,) if isinstance(name, str) else name) if n.strip()),
        email=email,
        address=address,
        called_after=called_after(session, number) if number else (),
    )
    return index.suggest(query, limit=limit, min_score=min_score)


def called_after(
    session: Session, number: str, *, now: datetime | None = None
) -> tuple[tuple[int, int, str], ...]:
    """Households whose number called the same line within minutes before this number did,
    from the ledger: (household, minutes, their number), the closest call of each.

    Reads this number's last calls of the week (through the ledger's index on time) and,
    for each, the known households' calls of that line in the window before it.
    """
    since = (now or utcnow()) - timedelta(days=_BEHAVIOUR_DAYS)
    calls = session.execute(
        select(Decision.at, Decision.line)
        .where(Decision.at >= since, Decision.number == number)
        .order_by(Decision.at.desc())
        .limit(_BEHAVIOUR_CALLS)
    ).all()
    found: dict[int, tuple[int, str]] = {}
    for at, line in calls:
        rows = session.execute(
            select(Decision.household_id, Decision.at, Decision.number).where(
                Decision.at >= at - CALLED_AFTER_WINDOW,
                Decision.at <= at,
                Decision.line == line,
                Decision.household_id.is_not(None),
                Decision.number != number,
            )
        )
        for household_id, then, their in rows:
            if household_id is None:
                continue
            minutes = round((at - then).total_seconds() / 60)
            if household_id not in found or minutes < found[household_id][0]:
                found[household_id] = (minutes, their)
    return tuple((h, minutes, their) for h, (minutes, their) in sorted(found.items()))


def household_pairs(index: SuggestionIndex, min_score: int = DEFAULT_THRESHOLD) -> list[Pair]:
    """Pairs of existing households that are probably one family (merge candidates)."""
    return index.household_pairs(min_score)


def recent(
    session: Session,
    index: SuggestionIndex,
    days: int,
    *,
    now: datetime | None = None,
    min_score: int = DEFAULT_THRESHOLD,
) -> list[RecentMatch]:
    """Households created from calls in the last `days` days, each with its best match."""
    if days < 1:
        raise InvalidInput(f"days must be at least 1, not {days}")
    since = (now or utcnow()) - timedelta(days=days)
    rows = session.execute(
        select(Household.id, Household.created_at)
        .where(Household.origin == "call", Household.created_at >= since)
        .order_by(Household.created_at, Household.id)
    )
    found = []
    for household_id, created_at in rows:
        record = household_record(session, household_id)
        if record is None:
            continue
        query = Query(record.numbers, record.members, record.email, record.address, record.id)
        best = index.suggest(query, limit=1, min_score=min_score)
        found.append(RecentMatch(record, created_at, best[0] if best else None))
    return found


def accept(
    session: Session,
    number: str,
    household_id: int,
    *,
    actor: str,
    move: bool = False,
    index: SuggestionIndex | None = None,
) -> HouseholdView:
    """Link the caller's number to the suggested household (audited); update the index."""
    previous = household_reads.lookup(session, number)
    view = households.link(
        session,
        number,
        household_id,
        move=move,
        actor=actor,
        reason="accepted suggestion",
    )
    if index is not None:
        refresh(session, index, household_id)
        if previous is not None and previous.household_id != household_id:
            refresh(session, index, previous.household_id)
    return view


def rejected(session: Session, households: Sequence[int] | None = None) -> set[tuple[int, int]]:
    """The pairs a person said are not one family (of `households` if given), each `ordered`."""
    query = select(SuggestionRejection.first_id, SuggestionRejection.second_id)
    if households is not None:
        ids = list(households)
        query = query.where(SuggestionRejection.first_id.in_(ids) | SuggestionRejection.second_id.in_(ids))
    return {(a, b) for a, b in session.execute(query)}


def reject(session: Session, a: int, b: int, *, actor: str, reason: str = "") -> bool:
    """Remember that `a` and `b` are not one family (audited on both); False if it was already known."""
    if a == b:
        raise InvalidInput("a household is not a suggestion for itself")
    first, second = ordered(a, b)
    if session.get(SuggestionRejection, (first, second)) is not None:
        return False
    session.add(SuggestionRejection(first_id=first, second_id=second, actor=actor, reason=reason.strip()))
    for household, other in ((first, second), (second, first)):
        audit.record(
            session,
            REJECT,
            household=household,
            subject=f"household {other}",
            reason=reason.strip(),
            actor=actor,
        )
    session.flush()
    return True


def queue(
    session: Session,
    index: SuggestionIndex,
    pairs: Sequence[Pair],
    *,
    days: int,
    now: datetime | None = None,
    min_score: int = DEFAULT_THRESHOLD,
) -> list[Queued]:
    """What waits for a person: families made by calls in the last `days` days that look like an
    existing one (newest first), then pairs of existing families (best first); a pair rejected
    before, or with a household that is gone (merged since `pairs` was computed), is left out."""
    from_calls = [
        Queued(m.match.household, m.household.id, m.match.score, m.match.reasons, FROM_CALL, m.created_at)
        for m in reversed(recent(session, index, days, now=now, min_score=min_score))
        if m.match is not None
    ]
    found = from_calls + [
        Queued(p.first, p.second, p.score, p.reasons, PAIR) for p in pairs if p.score >= min_score
    ]
    ids = {h for q in found for h in q.pair}
    existing = set(session.scalars(select(Household.id).where(Household.id.in_(ids)))) if ids else set()
    refused = rejected(session, sorted(ids)) if ids else set()
    seen: set[tuple[int, int]] = set()
    listed = []
    for q in found:
        if q.pair in seen or q.pair in refused or not {q.keep, q.other} <= existing:
            continue
        seen.add(q.pair)
        listed.append(q)
    return listed


def concerning(
    session: Session,
    index: SuggestionIndex,
    household_id: int,
    *,
    limit: int = 5,
    min_score: int = DEFAULT_THRESHOLD,
) -> list[Queued]:
    """The families this one probably is (best first), without the pairs rejected before."""
    record = household_record(session, household_id)
    if record is None:
        return []
    query = Query(record.numbers, record.members, record.email, record.address, record.id)
    found = index.suggest(query, limit=limit, min_score=min_score)
    refused = rejected(session, [household_id])
    existing = set(
        session.scalars(select(Household.id).where(Household.id.in_([f.household for f in found])))
    )
    return [
        Queued(min(household_id, f.household), max(household_id, f.household), f.score, f.reasons, PAIR)
        for f in found
        if f.household in existing and ordered(household_id, f.household) not in refused
    ]
