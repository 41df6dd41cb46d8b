"""Finding households: admin-typed numbers parsed at the boundary, lookups by number or id, views.

Reads only; every change to the directory is in `router.directory.households`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Select, and_, bindparam, func, intersect, select
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from identity.names import search_keys
from identity.numbers import CallerNumber, NumberKind, normalize
from router.directory import merges
from router.directory.offices import get_agent
from router.errors import N_, InvalidInput, NotFound
from router.storage.models import (
    NUMBER_LABELS,
    Agent,
    AuditEntry,
    Exclusion,
    Household,
    HouseholdOwner,
    Member,
    NameWord,
    PhoneNumber,
)
from router.storage.prepared import Prepared
from router.storage.views import HouseholdView, NumberView, Owner

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
        raise InvalidInput(
            N_("%(text)r is not a valid phone number (default region %(region)s)"), text=text, region=region
        )
    return number


def parse_number_spec(text: str, region: str) -> NumberSpec:
    """`NUMBER[=LABEL]` as typed after --number."""
    raw, _, label = text.partition("=")
    label = label.strip() or "mobile"
    check_label(label)
    return NumberSpec(parse_number(raw, region).key, label)


def check_label(label: str) -> None:
    if label not in NUMBER_LABELS:
        raise InvalidInput(
            N_("label must be one of %(labels)s, not %(label)r"), labels=", ".join(NUMBER_LABELS), label=label
        )


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
        merged = merges.merged_away(session, household_id)
        if merged is not None:
            raise NotFound(
                N_(
                    "household %(household)s was merged into %(into)s on %(date)s: "
                    "its calls are household %(into)s's"
                ),
                household=household_id,
                into=merged.into,
                date=f"{merged.at:%Y-%m-%d}",
            )
        raise NotFound(N_("no household %(household)s"), household=household_id)
    return household


def resolve(session: Session, ref: str, region: str) -> Household:
    """A household by id, or by any number linked to it."""
    text = ref.strip()
    if text.isdigit() and len(text) <= _MAX_ID_DIGITS:
        return get_household(session, int(text))
    found = lookup(session, parse_number(text, region).key)
    if found is None:
        raise NotFound(N_("no household has number %(number)s"), number=text)
    return get_household(session, found.household_id)


def resolve_id(session: Session, ref: str, region: str) -> int:
    """`resolve`'s household id, for reading evidence: an id merged away still names its trail.

    A household merged into another is gone, but its audit rows (and the
    calls of the ledger) keep its id; `audit --household` and the timeline
    of that id still show them. An id that never named a household is NotFound.
    """
    text = ref.strip()
    if not (text.isdigit() and len(text) <= _MAX_ID_DIGITS):
        return resolve(session, text, region).id
    household_id = int(text)
    if session.get(Household, household_id) is None and not _has_trail(session, household_id):
        raise NotFound(N_("no household %(household)s"), household=household_id)
    return household_id


def _has_trail(session: Session, household_id: int) -> bool:
    found = session.scalar(select(AuditEntry.id).where(AuditEntry.household_id == household_id).limit(1))
    return found is not None


def list_households(session: Session, owner: str | None = None) -> list[HouseholdView]:
    query = _with_parts(select(Household).order_by(Household.id))
    if owner is not None:
        query = query.where(Household.owner_id == get_agent(session, owner).id)
    return [household_view(h) for h in session.scalars(query)]


def households_by_id(session: Session, ids: Sequence[int]) -> list[HouseholdView]:
    """The households of `ids` that exist, by id, in a few queries whatever their number."""
    if not ids:
        return []
    query = _with_parts(select(Household).where(Household.id.in_(list(ids))).order_by(Household.id))
    return [household_view(h) for h in session.scalars(query)]


def _with_parts(query: Select[Household]) -> Select[Household]:
    return query.options(
        selectinload(Household.members), selectinload(Household.numbers), selectinload(Household.owner)
    )


def household_view(household: Household) -> HouseholdView:
    return HouseholdView(
        id=household.id,
        name=household.name,
        owner=login_of(household.owner) or None,
        members=tuple(m.full_name for m in household.members),
        numbers=tuple(NumberView(n.number, n.label) for n in household.numbers),
        email=household.email,
        address=household.address,
        origin=household.origin,
        created_at=household.created_at,
        last_contact_at=household.last_contact_at,
        co_owners=tuple(row.agent.login for row in household.co_owners),
        owners_mode=household.owners_mode,
    )


def login_of(agent: Agent | None) -> str:
    """An agent's login, or an empty string for no agent."""
    return agent.login if agent is not None else ""


@dataclass(frozen=True, slots=True)
class Found:
    """A search hit: the household, and the member or name that matched."""

    id: int
    name: str
    owner: str | None
    matched: str
    co_owners: tuple[str, ...] = ()


def search_names(session: Session, text: str, *, limit: int = 50) -> list[Found]:
    """Households whose name or a member's name has every typed word, in Cyrillic or Latin.

    Words are compared folded (`identity.names.search_keys`: "Ivanova" and
    "Иванова" fold alike) as prefixes, so "иван" finds Иванов and Ivanova.
    Each typed word is a range of the index of folded name words
    (`name_words`, kept by `router.directory.name_index`); the names that
    have every word are their intersection, read in the database.
    """
    wanted = search_keys(text)
    if not wanted:
        return []
    each = [
        select(NameWord.household_id, NameWord.name_no).where(_prefix_of(NameWord.word, w)) for w in wanted
    ]
    having = (intersect(*each) if len(each) > 1 else each[0]).subquery()
    first = (
        select(having.c.household_id, func.min(having.c.name_no))
        .group_by(having.c.household_id)
        .order_by(having.c.household_id)
        .limit(limit)
    )
    hits: dict[int, int] = {household_id: name_no for household_id, name_no in session.execute(first)}
    if not hits:
        return []
    of_hits = select(Member.household_id, Member.position, Member.full_name).where(
        Member.household_id.in_(hits)
    )
    names = {(household_id, position + 1): name for household_id, position, name in session.execute(of_hits)}
    rows = session.execute(
        select(Household.id, Household.name, Agent.login)
        .outerjoin(Agent, Agent.id == Household.owner_id)
        .where(Household.id.in_(hits))
        .order_by(Household.id)
    )
    co_owners: dict[int, list[str]] = {}
    for household_id, login in session.execute(
        select(HouseholdOwner.household_id, Agent.login)
        .join(Agent, Agent.id == HouseholdOwner.agent_id)
        .where(HouseholdOwner.household_id.in_(hits))
        .order_by(HouseholdOwner.household_id, HouseholdOwner.position)
    ):
        co_owners.setdefault(household_id, []).append(login)
    return [
        Found(
            id=r[0],
            name=r[1],
            owner=r[2],
            matched=names.get((r[0], hits[r[0]]), r[1]),
            co_owners=tuple(co_owners.get(r[0], ())),
        )
        for r in rows
    ]


def _prefix_of(column: InstrumentedAttribute[str], prefix: str) -> ColumnElement[bool]:
    """`column` starts with `prefix` (folded: a-z only), as a range an index answers on either backend.

    The bound above is the prefix with its last letter below z raised by one
    (`ivan` → `ivao`, `iz` → `j`): never a character outside a-z, which a
    locale's collation may order elsewhere or ignore.
    """
    stem = prefix.rstrip("z")
    if not stem:
        return column >= prefix
    return and_(column >= prefix, column < stem[:-1] + chr(ord(stem[-1]) + 1))


def search(session: Session, text: str, region: str) -> list[Found]:
    """The one search box: a number in any usual spelling finds its household, anything else is a name."""
    number = normalize(text, region)
    if number.kind is NumberKind.E164:
        owner = lookup(session, number.key)
        if owner is None:
            return []
        household = get_household(session, owner.household_id)
        co_owners = tuple(row.agent.login for row in household.co_owners)
        return [
            Found(
                id=household.id,
                name=household.name,
                owner=owner.owner_login,
                matched=number.key,
                co_owners=co_owners,
            )
        ]
    return search_names(session, text)


def exclusions_of(session: Session, household_id: int) -> list[str]:
    """The logins of the agents a household's calls must never reach."""
    query = (
        select(Agent.login)
        .join(Exclusion, Exclusion.agent_id == Agent.id)
        .where(Exclusion.household_id == household_id)
        .order_by(Agent.login)
    )
    return list(session.scalars(query))
