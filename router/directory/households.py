"""Households and the numbers linked to them: the directory routing trusts.

A number belongs to at most one household (a unique key in the database, so
two admins racing to link it leave exactly one link). Every change that moves
a number or an owner writes an audit row in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from router.directory import audit, co_owners, disputes, household_reads, merges, name_index
from router.directory.household_reads import login_of
from router.directory.offices import get_agent
from router.errors import N_, Conflict, InvalidInput, NotFound
from router.storage.models import Agent, Dispute, Exclusion, Household, Member, PhoneNumber
from router.storage.views import HouseholdView

_SEMICOLON = N_("a member's name cannot contain ';' (the CSV separator): %(name)r")


class NumberTaken(Conflict):
    """A number linked to another household: refused, naming that household, unless it is moved."""

    def __init__(self, number: str, household_id: int, name: str, owner: str | None, hint: str) -> None:
        super().__init__(
            N_("number %(number)s belongs to household %(household)s “%(name)s” (owner %(owner)s); %(hint)s"),
            number=number,
            household=household_id,
            name=name or N_("without a name"),
            owner=owner or N_("none"),
            hint=hint,
        )
        self.number = number
        self.household_id = household_id
        self.household_name = name
        self.owner = owner


def add_household(
    session: Session,
    *,
    name: str = "",
    members: Sequence[str] = (),
    numbers: Sequence[household_reads.NumberSpec] = (),
    owner: str | None = None,
    email: str = "",
    address: str = "",
    actor: str,
    origin: str = "admin",
) -> HouseholdView:
    """A new household; `origin` says what made it (an admin, a call, a lead)."""
    seen: set[str] = set()
    for spec in numbers:
        household_reads.check_label(spec.label)
        if spec.number in seen:
            raise InvalidInput(N_("number %(number)s is given twice"), number=spec.number)
        seen.add(spec.number)
    for member in members:
        if ";" in member:
            raise InvalidInput(_SEMICOLON, name=member)
    owner_agent = get_agent(session, owner) if owner else None
    household = Household(
        name=name.strip(),
        owner=owner_agent,
        email=email.strip(),
        address=address.strip(),
        origin=origin,
        members=[Member(position=i, full_name=m.strip()) for i, m in enumerate(members)],
        co_owners=[],  # known empty: its view reads no co-owners back
    )
    session.add(household)
    session.flush()
    name_index.add(session, household.id, household.name, [m.full_name for m in household.members])
    for spec in numbers:
        _refuse_if_linked(
            session, spec.number, household.id, move=False, hint=N_("move it with `number link --move`")
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
    return household_reads.household_view(household)


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
    household_reads.check_label(label)
    household = household_reads.get_household(session, household_id)
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
        return household_reads.household_view(household)
    if existing is not None:
        source = existing.household_id
        source_owner = login_of(existing.household.owner)
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
        target_owner = login_of(household.owner)
        if source_owner and target_owner and source_owner != target_owner:
            disputes.open_dispute(
                session,
                household.id,
                [target_owner, source_owner],
                reason=reason or f"number {number} moved from household {source} of {source_owner}",
                actor=actor,
                origin=disputes.MOVE,
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
    return household_reads.household_view(household)


def unlink(session: Session, number: str, *, actor: str, reason: str = "") -> int:
    """Remove a number from its household; returns that household's id."""
    existing = session.scalar(select(PhoneNumber).where(PhoneNumber.number == number))
    if existing is None:
        raise NotFound(N_("number %(number)s is not linked to any household"), number=number)
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
    """Fold OTHER into KEEP: numbers, members and exclusions move, OTHER's row goes.

    OTHER's id is left pointing at KEEP (`router.directory.merges`), so its
    calls and audit rows count for KEEP, and the id is never reused.
    """
    if keep_id == other_id:
        raise InvalidInput(N_("cannot merge a household into itself"))
    keep, other = (
        household_reads.get_household(session, keep_id),
        household_reads.get_household(session, other_id),
    )
    owners = {o for o in (keep.owner, other.owner) if o is not None}
    contested: list[str] = []
    if owner is not None:
        for side in (keep, other):
            if owner != login_of(side.owner):
                disputes.refuse_if_disputed(session, side.id, N_("owner chosen by a merge"))
        new_owner: Agent | None = get_agent(session, owner)
    elif len(owners) > 1:
        # Nobody chose: KEEP's owner stays for now, and the two owners' claim is a dispute.
        contested = [login_of(keep.owner), login_of(other.owner)]
        new_owner = keep.owner
    else:
        new_owner = keep.owner or other.owner
    before = f"{keep.id}: {_summary(keep)}; {other.id}: {_summary(other)}"
    old_owner = login_of(keep.owner)
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
    if new_owner is not None:  # an owner is not their own co-owner
        co_owners.drop(session, keep, new_owner)
    session.flush()
    session.expire(other)
    session.execute(delete(Household).where(Household.id == other.id))
    merges.record(session, other.id, keep.id, actor=actor)
    # A dispute open over OTHER goes on over the family it joined.
    session.execute(
        update(Dispute)
        .where(Dispute.household_id == other.id, Dispute.resolved_at.is_(None))
        .values(household_id=keep.id)
    )
    session.flush()
    session.refresh(keep)
    name_index.reindex(session, [keep.id, other.id])
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
    if old_owner != login_of(new_owner):
        audit.record(
            session,
            "owner",
            household=keep.id,
            before=old_owner,
            after=login_of(new_owner),
            reason=reason or f"merge of household {other.id}",
            actor=actor,
        )
    if contested:
        disputes.open_dispute(
            session,
            keep.id,
            contested,
            reason=reason
            or f"merge of household {other.id} into {keep.id} joined families of different owners",
            actor=actor,
            origin=disputes.MERGE,
        )
    return household_reads.household_view(keep)


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
        raise InvalidInput(N_("an ownership change needs a reason"))
    household = household_reads.get_household(session, household_id)
    disputes.refuse_if_disputed(session, household.id, action)
    new_owner = get_agent(session, login) if login else None
    before = login_of(household.owner)
    household.owner = new_owner
    if new_owner is not None:
        co_owners.drop(session, household, new_owner)
    else:  # a family nobody owns has no co-owners either
        co_owners.replace_owners(session, household, [], household.owners_mode)
    audit.record(
        session,
        action,
        household=household.id,
        before=before,
        after=login_of(new_owner),
        reason=reason.strip(),
        actor=actor,
    )
    session.flush()
    return household_reads.household_view(household)


def set_owners(
    session: Session, household_id: int, logins: Sequence[str], *, mode: str, reason: str, actor: str
) -> HouseholdView:
    """The household's owners from now on, the first its owner, rung in order or together; audited.

    One login clears the co-owners. Refused while a dispute is open: only
    resolving it changes hands (`disputes.resolve`, which sets co-owners too).
    """
    if not reason.strip():
        raise InvalidInput("a change of owners needs a reason")
    co_owners.check_mode(mode)
    wanted = list(dict.fromkeys(login.strip() for login in logins if login.strip()))
    if not wanted:
        raise InvalidInput("name at least one owner")
    household = household_reads.get_household(session, household_id)
    agents = [co_owners.check_owner(get_agent(session, login)) for login in wanted]
    disputes.refuse_if_disputed(session, household.id, "change of owners")
    excluded = session.scalars(
        select(Agent.login)
        .join(Exclusion, Exclusion.agent_id == Agent.id)
        .where(Exclusion.household_id == household.id, Agent.login.in_(wanted))
    ).first()
    if excluded is not None:
        raise Conflict(
            f"agent {excluded!r} is excluded from household {household.id} (`household include` first)"
        )
    before_owner = login_of(household.owner)
    before = _owners_summary(household)
    co_owners.replace_owners(session, household, agents, mode)
    if before_owner != wanted[0]:
        audit.record(
            session,
            "transfer",
            household=household.id,
            before=before_owner,
            after=wanted[0],
            reason=reason.strip(),
            actor=actor,
        )
    audit.record(
        session,
        "owners",
        household=household.id,
        before=before,
        after=_owners_summary(household),
        reason=reason.strip(),
        actor=actor,
    )
    session.flush()
    return household_reads.household_view(household)


def _owners_summary(household: Household) -> str:
    """`m1,m2 (equal)` as the audit shows a household's owners; `-` for none."""
    owners = [login_of(household.owner), *(row.agent.login for row in household.co_owners)]
    named = ",".join(o for o in owners if o) or "-"
    return f"{named} ({household.owners_mode})" if len(owners) > 1 else named


def exclude(session: Session, household_id: int, login: str, *, actor: str, reason: str = "") -> None:
    """Never route this household's calls to this agent; the household's own owner cannot be excluded
    (their calls would reach nobody they belong to: transfer the household first)."""
    household = household_reads.get_household(session, household_id)
    agent = get_agent(session, login)
    if household.owner_id == agent.id:
        raise Conflict(
            N_("%(login)s owns household %(household)s: transfer it to someone else before excluding them"),
            login=login,
            household=household.id,
        )
    if session.get(Exclusion, (household.id, agent.id)) is None:
        session.add(Exclusion(household_id=household.id, agent_id=agent.id))
        audit.record(session, "exclude", household=household.id, subject=login, reason=reason, actor=actor)
        session.flush()


def _refuse_if_linked(
    session: Session, number: str, household_id: int, *, move: bool, hint: str = N_("use --move to move it")
) -> PhoneNumber | None:
    existing = session.scalar(select(PhoneNumber).where(PhoneNumber.number == number))
    if existing is not None and existing.household_id != household_id and not move:
        holder = existing.household
        raise NumberTaken(number, holder.id, holder.name, login_of(holder.owner) or None, hint)
    return existing


def _flush_links(session: Session, numbers: Sequence[str]) -> None:
    """Flush new links; another transaction taking the number first is a conflict."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            N_("number %(number)s was linked by someone else at the same moment"), number=", ".join(numbers)
        ) from None


def _summary(household: Household) -> str:
    numbers = ",".join(n.number for n in household.numbers)
    return f"owner={login_of(household.owner) or '-'} numbers={numbers or '-'}"


def include(session: Session, household_id: int, login: str, *, actor: str, reason: str = "") -> None:
    """Undo an exclusion: this household's calls may reach this agent again."""
    household = household_reads.get_household(session, household_id)
    agent = get_agent(session, login)
    exclusion = session.get(Exclusion, (household.id, agent.id))
    if exclusion is None:
        raise NotFound(
            N_("%(login)s is not excluded from household %(household)s"), login=login, household=household.id
        )
    session.delete(exclusion)
    audit.record(session, "include", household=household.id, subject=login, reason=reason, actor=actor)
    session.flush()


def relabel(session: Session, number: str, household_id: int, label: str, *, actor: str) -> HouseholdView:
    """Change the label of one of this household's numbers (a number of another household is NotFound)."""
    household_reads.check_label(label)
    existing = session.scalar(select(PhoneNumber).where(PhoneNumber.number == number))
    if existing is None or existing.household_id != household_id:
        raise NotFound(
            N_("number %(number)s is not linked to household %(household)s"),
            number=number,
            household=household_id,
        )
    return link(session, number, household_id, label=label, actor=actor)


def add_member(session: Session, household_id: int, full_name: str, *, actor: str) -> HouseholdView:
    """Add a person to a household (the spouse, a child who will call one day)."""
    name = full_name.strip()
    if not name:
        raise InvalidInput(N_("a member needs a name"))
    if ";" in name:
        raise InvalidInput(_SEMICOLON, name=name)
    household = household_reads.get_household(session, household_id)
    position = len(household.members)
    household.members.append(Member(position=position, full_name=name))
    name_index.add_member(session, household.id, position, name)
    audit.record(session, "member", household=household.id, subject=name, actor=actor)
    session.flush()
    return household_reads.household_view(household)
