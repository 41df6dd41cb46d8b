"""Finding households: admin-typed numbers parsed at the boundary, lookups by number or id, views.

Reads only; every change to the directory is in `router.directory.households`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Select,
    and_,
    bindparam,
    exists,
    select,
    union,
)
from sqlalchemy.orm import QueryableAttribute, Session, aliased, selectinload

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


def search_names(session: Session, text: str, *, limit: int = 50, agent: str | None = None) -> list[Found]:
    """Up to `limit` households whose name or a member's name has every typed word, in Cyrillic or Latin.

    Words are compared folded (`identity.names.search_keys`: "Ivanova" and
    "Иванова" fold alike) as prefixes, so "иван" finds Иванов and Ivanova.
    The longest typed word (the rarest, as a rule) is read as a range of the
    index of folded name words (`name_words`, kept by
    `router.directory.name_index`) in the index's order, each of its names
    checked for the other words, and the reading stops at `limit`
    households: a common name costs the rows read up to the page, not every
    family that has it. So a typed word found whole comes before longer
    words it begins ("Ivanov" lists Иванов before Иванова). With `agent`,
    only the households that agent owns or co-owns: a manager's page of
    `limit` is of families they may open, not everyone's.
    """
    wanted = search_keys(text)
    if not wanted:
        return []
    drive, *others = sorted(wanted, key=len, reverse=True)
    word = aliased(NameWord)
    matching = select(word.household_id, word.name_no).where(_prefix_of(word.word, drive))
    for other in others:
        same = aliased(NameWord)
        matching = matching.where(
            exists().where(
                same.household_id == word.household_id,
                same.name_no == word.name_no,
                _prefix_of(same.word, other),
            )
        )
    if agent is not None:
        matching = matching.where(word.household_id.in_(_owned_or_co_owned(agent)))
    hits = _first_households(session, matching.order_by(word.word, word.household_id), limit)
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


def _prefix_of(column: QueryableAttribute[str], prefix: str) -> ColumnElement[bool]:
    """`column` starts with `prefix` (folded: a-z only), as a range an index answers on either backend.

    The bound above is the prefix with its last letter below z raised by one
    (`ivan` → `ivao`, `iz` → `j`): never a character outside a-z, which a
    locale's collation may order elsewhere or ignore.
    """
    stem = prefix.rstrip("z")
    if not stem:
        return column >= prefix
    return and_(column >= prefix, column < stem[:-1] + chr(ord(stem[-1]) + 1))


def _first_households(session: Session, matching: Select[int, int], limit: int) -> dict[int, int]:
    """The first `limit` households of `matching` (household, name_no) in its order, each with its first name.

    Read in batches with a LIMIT, so that either backend stops early; a
    household may match with several of its names.
    """
    batch = limit * 2
    hits: dict[int, int] = {}
    offset = 0
    while len(hits) < limit:
        rows = session.execute(matching.limit(batch).offset(offset)).all()
        for household_id, name_no in rows:
            if household_id not in hits and len(hits) < limit:
                hits[household_id] = name_no
            elif household_id in hits:
                hits[household_id] = min(hits[household_id], name_no)
        if len(rows) < batch:
            break
        offset += batch
    return hits


def _owned_or_co_owned(login: str) -> CompoundSelect:
    owner = select(Agent.id).where(Agent.login == login).scalar_subquery()
    return union(
        select(Household.id).where(Household.owner_id == owner),
        select(HouseholdOwner.household_id).where(HouseholdOwner.agent_id == owner),
    )


def search(session: Session, text: str, region: str, *, agent: str | None = None) -> list[Found]:
    """The one search box: a number in any usual spelling finds its household, anything else is a name.

    `agent` narrows a name search to the families that agent owns or co-owns
    (a manager's); a number finds its one household either way.
    """
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
    return search_names(session, text, agent=agent)


def exclusions_of(session: Session, household_id: int) -> list[str]:
    """The logins of the agents a household's calls must never reach."""
    query = (
        select(Agent.login)
        .join(Exclusion, Exclusion.agent_id == Agent.id)
        .where(Exclusion.household_id == household_id)
        .order_by(Agent.login)
    )
    return list(session.scalars(query))
