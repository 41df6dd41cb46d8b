"""Households and the numbers linked to them: the directory routing trusts.

A number belongs to at most one household (a unique key in the database, so
two admins racing to link it leave exactly one link). Every change that moves
a number or an owner writes an audit row in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from identity.numbers import CallerNumber, NumberKind, normalize
from router import audit
from router.directory import get_agent
from router.errors import Conflict, InvalidInput, NotFound
from router.models import NUMBER_LABELS, Agent, Exclusion, Household, Member, PhoneNumber
from router.prepared import Prepared
from router.views import HouseholdView, NumberView, Owner

# A household reference on the command line: up to this many digits is an id,
# anything longer (or with + or separators) is a phone number.
_MAX_ID_DIGITS = 9


@dataclass(frozen=True, slots=True)
class NumberSpec:
    number: str
    label: str = "mobile"


def parse_number(text: str, region: str) -> CallerNumber:
    """An admin-typed phone number; anything that is not a valid number is refused."""
    number = normalize(text, region)
    if number.kind is not NumberKind.E164:
        raise InvalidInput(f"{text!r} is not a valid phone number (default region {region})")
    return number


def parse_number_spec(text: str, region: str) -> NumberSpec:
    """`NUMBER[=LABEL]` as typed after --number."""
    raw, _, label = text.partition("=")
    label = label.strip() or "mobile"
    check_label(label)
    return NumberSpec(parse_number(raw, region).key, label)


def check_label(label: str) -> None:
    if label not in NUMBER_LABELS:
        raise InvalidInput(f"label must be one of {', '.join(NUMBER_LABELS)}, not {label!r}")


# Built once and run on the session's connection: the ORM layer of
# `session.execute` costs several times the indexed query itself, and every
# call the router routes pays for a lookup.
_LOOKUP = Prepared(
    select(PhoneNumber.household_id, Household.owner_id, Agent.login)
    .join(Household, Household.id == PhoneNumber.household_id)
    .outerjoin(Agent, Agent.id == Household.owner_id)
    .where(PhoneNumber.number == bindparam("key"))
)


def lookup(session: Session, key: str) -> Owner | None:
    """The household a normalized number belongs to, and its owner: one indexed query."""
    return lookup_number(session.connection(), key)


def lookup_number(connection: Connection, key: str) -> Owner | None:
    """`lookup` on a plain connection, as the call path runs it."""
    row = _LOOKUP.first(connection, {"key": key})
    if row is None:
        return None
    return Owner(household_id=row[0], owner_id=row[1], owner_login=row[2])


def get_household(session: Session, household_id: int) -> Household:
    household = session.get(Household, household_id)
    if household is None:
        raise NotFound(f"no household {household_id}")
    return household


def resolve(session: Session, ref: str, region: str) -> Household:
    """A household by id, or by any number linked to it."""
    text = ref.strip()
    if text.isdigit() and len(text) <= _MAX_ID_DIGITS:
        return get_household(session, int(text))
    found = lookup(session, parse_number(text, region).key)
    if found is None:
        raise NotFound(f"no household has number {text}")
    return get_household(session, found.household_id)


def add_household(
    session: Session,
    *,
    name: str = "",
    members: Sequence[str] = (),
    numbers: Sequence[NumberSpec] = (),
    owner: str | None = None,
    email: str = "",
    address: str = "",
    actor: str,
) -> HouseholdView:
    seen: set[str] = set()
    for spec in numbers:
        check_label(spec.label)
        if spec.number in seen:
            raise InvalidInput(f"number {spec.number} is given twice")
        seen.add(spec.number)
    for member in members:
        if ";" in member:
            raise InvalidInput(f"a member's name cannot contain ';' (the CSV separator): {member!r}")
    owner_agent = get_agent(session, owner) if owner else None
    household = Household(
        name=name.strip(),
        owner=owner_agent,
        email=email.strip(),
        address=address.strip(),
        members=[Member(position=i, full_name=m.strip()) for i, m in enumerate(members)],
    )
    session.add(household)
    session.flush()
    for spec in numbers:
        _refuse_if_linked(
            session, spec.number, household.id, move=False, hint="move it with `number link --move`"
        )
        household.numbers.append(PhoneNumber(number=spec.number, label=spec.label))
    _flush_links(session, [s.number for s in numbers])
    audit.record(
        session,
        "create",
        household=household.id,
        after=_summary(household),
        actor=actor,
    )
    return household_view(household)


def link(
    session: Session,
    number: str,
    household_id: int,
    *,
    label: str = "mobile",
    move: bool = False,
    actor: str,
    reason: str = "",
) -> HouseholdView:
    """Link a normalized number to a household; a number of another household needs `move`."""
    check_label(label)
    household = get_household(session, household_id)
    existing = _refuse_if_linked(session, number, household.id, move=move)
    if existing is not None and existing.household_id == household.id:
        before = existing.label
        existing.label = label
        if before != label:
            audit.record(
                session,
                "relabel",
                household=household.id,
                subject=number,
                before=before,
                after=label,
                reason=reason,
                actor=actor,
            )
        session.flush()
        return household_view(household)
    if existing is not None:
        source = existing.household_id
        existing.household_id = household.id
        existing.label = label
        audit.record(
            session,
            "move",
            household=household.id,
            subject=number,
            before=f"household {source}",
            after=f"household {household.id}",
            reason=reason,
            actor=actor,
        )
        audit.record(
            session,
            "move",
            household=source,
            subject=number,
            before=f"household {source}",
            after=f"household {household.id}",
            reason=reason,
            actor=actor,
        )
    else:
        session.add(PhoneNumber(number=number, label=label, household_id=household.id))
        audit.record(
            session,
            "link",
            household=household.id,
            subject=number,
            after=label,
            reason=reason,
            actor=actor,
        )
    _flush_links(session, [number])
    session.refresh(household, ["numbers"])
    return household_view(household)


def unlink(session: Session, number: str, *, actor: str, reason: str = "") -> int:
    """Remove a number from its household; returns that household's id."""
    existing = session.scalar(select(PhoneNumber).where(PhoneNumber.number == number))
    if existing is None:
        raise NotFound(f"number {number} is not linked to any household")
    household_id = existing.household_id
    session.delete(existing)
    audit.record(
        session,
        "unlink",
        household=household_id,
        subject=number,
        before=f"household {household_id}",
        reason=reason,
        actor=actor,
    )
    session.flush()
    return household_id


def merge(
    session: Session,
    keep_id: int,
    other_id: int,
    *,
    owner: str | None = None,
    actor: str,
    reason: str = "",
) -> HouseholdView:
    """Fold OTHER into KEEP: numbers, members and exclusions move, OTHER is deleted."""
    if keep_id == other_id:
        raise InvalidInput("cannot merge a household into itself")
    keep, other = get_household(session, keep_id), get_household(session, other_id)
    owners = {o for o in (keep.owner, other.owner) if o is not None}
    if owner is not None:
        new_owner: Agent | None = get_agent(session, owner)
    elif len(owners) > 1:
        raise Conflict(
            f"households {keep.id} and {other.id} have different owners "
            f"({_login(keep.owner)} and {_login(other.owner)}): choose one with --owner"
        )
    else:
        new_owner = next(iter(owners), None)
    before = f"{keep.id}: {_summary(keep)}; {other.id}: {_summary(other)}"
    old_owner = _login(keep.owner)
    session.execute(
        update(PhoneNumber).where(PhoneNumber.household_id == other.id).values(household_id=keep.id)
    )
    offset = len(keep.members)
    for i, member in enumerate(other.members):
        keep.members.append(Member(position=offset + i, full_name=member.full_name))
    kept_exclusions = set(
        session.scalars(select(Exclusion.agent_id).where(Exclusion.household_id == keep.id))
    )
    for agent_id in session.scalars(select(Exclusion.agent_id).where(Exclusion.household_id == other.id)):
        if agent_id not in kept_exclusions:
            session.add(Exclusion(household_id=keep.id, agent_id=agent_id))
    keep.name = keep.name or other.name
    keep.email = keep.email or other.email
    keep.address = keep.address or other.address
    if other.last_contact_at and (
        keep.last_contact_at is None or other.last_contact_at > keep.last_contact_at
    ):
        keep.last_contact_at = other.last_contact_at
    keep.created_at = min(keep.created_at, other.created_at)
    keep.owner = new_owner
    session.flush()
    session.expire(other)
    session.execute(delete(Household).where(Household.id == other.id))
    session.flush()
    session.refresh(keep)
    after = f"{keep.id}: {_summary(keep)}"
    audit.record(
        session,
        "merge",
        household=keep.id,
        subject=f"household {other.id}",
        before=before,
        after=after,
        reason=reason,
        actor=actor,
    )
    audit.record(
        session,
        "merge",
        household=other.id,
        subject=f"into household {keep.id}",
        before=before,
        after=after,
        reason=reason,
        actor=actor,
    )
    if old_owner != _login(new_owner):
        audit.record(
            session,
            "owner",
            household=keep.id,
            before=old_owner,
            after=_login(new_owner),
            reason=reason or f"merge of household {other.id}",
            actor=actor,
        )
    return household_view(keep)


def transfer(
    session: Session,
    household_id: int,
    login: str | None,
    *,
    reason: str,
    actor: str,
    action: str = "transfer",
) -> HouseholdView:
    """Give a household to another agent (or to nobody, with `login=None`), with a reason."""
    if not reason.strip():
        raise InvalidInput("an ownership change needs a reason")
    household = get_household(session, household_id)
    new_owner = get_agent(session, login) if login else None
    before = _login(household.owner)
    household.owner = new_owner
    audit.record(
        session,
        action,
        household=household.id,
        before=before,
        after=_login(new_owner),
        reason=reason.strip(),
        actor=actor,
    )
    session.flush()
    return household_view(household)


def exclude(session: Session, household_id: int, login: str, *, actor: str, reason: str = "") -> None:
    """Never route this household's calls to this agent."""
    household = get_household(session, household_id)
    agent = get_agent(session, login)
    if session.get(Exclusion, (household.id, agent.id)) is None:
        session.add(Exclusion(household_id=household.id, agent_id=agent.id))
        audit.record(session, "exclude", household=household.id, subject=login, reason=reason, actor=actor)
        session.flush()


def list_households(session: Session, owner: str | None = None) -> list[HouseholdView]:
    query = (
        select(Household)
        .options(
            selectinload(Household.members),
            selectinload(Household.numbers),
            selectinload(Household.owner),
        )
        .order_by(Household.id)
    )
    if owner is not None:
        query = query.where(Household.owner_id == get_agent(session, owner).id)
    return [household_view(h) for h in session.scalars(query)]


def household_view(household: Household) -> HouseholdView:
    return HouseholdView(
        id=household.id,
        name=household.name,
        owner=_login(household.owner) or None,
        members=tuple(m.full_name for m in household.members),
        numbers=tuple(NumberView(n.number, n.label) for n in household.numbers),
        email=household.email,
        address=household.address,
        origin=household.origin,
        created_at=household.created_at,
        last_contact_at=household.last_contact_at,
    )


def _refuse_if_linked(
    session: Session, number: str, household_id: int, *, move: bool, hint: str = "use --move to move it"
) -> PhoneNumber | None:
    existing = session.scalar(select(PhoneNumber).where(PhoneNumber.number == number))
    if existing is not None and existing.household_id != household_id and not move:
        holder = existing.household
        owner = _login(holder.owner) or "none"
        raise Conflict(f"number {number} belongs to household {holder.id} (owner {owner}); {hint}")
    return existing


def _flush_links(session: Session, numbers: Sequence[str]) -> None:
    """Flush new links; another transaction taking the number first is a conflict."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"number {', '.join(numbers)} was linked by someone else at the same moment") from None


def _login(agent: Agent | None) -> str:
    return agent.login if agent is not None else ""


def _summary(household: Household) -> str:
    numbers = ",".join(n.number for n in household.numbers)
    return f"owner={_login(household.owner) or '-'} numbers={numbers or '-'}"
