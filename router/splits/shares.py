"""Commission splits, as pure arithmetic on money and evidence.

Amounts are integers in the smallest unit (kopecks, cents) and shares are cut
by the largest-remainder method, so they always add up to the booking's
amount exactly: 1001.01 split two ways is 500.51 + 500.50, never 500.505
twice. Ties in the remainder go to the agent who answered first, so the same
ledger always gives the same split.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from router.errors import N_, InvalidInput
from router.storage.views import iso

POLICIES = ("equal", "talk-time", "owner", "first-contact")
OVERRIDE = "override"
# What `equal` means for a family with equal co-owners: equal shares among
# them, whoever answered its calls (a report shows it as this policy).
CO_OWNERS = "co-owners"
MINOR_UNITS = 100
# The largest amount of one booking, in roubles: a billion (ten digits more is a typo, and would
# overflow the column).
MAX_ROUBLES = 10**9
_PLAIN_AMOUNT = re.compile(r"\d+(\.\d*)?")
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Contact:
    """One answered call of the household: the evidence a share rests on."""

    call: str
    agent: str
    at: datetime
    talk_seconds: float
    covering_for: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "call": self.call,
            "at": iso(self.at),
            "talk_seconds": self.talk_seconds,
            "covering_for": self.covering_for,
        }


@dataclass(frozen=True, slots=True)
class Share:
    agent: str
    amount: int
    percent: Decimal
    evidence: tuple[Contact, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "amount": format_amount(self.amount),
            "percent": float(self.percent),
            "evidence": [c.as_json() for c in self.evidence],
        }


def parse_amount(text: str) -> int:
    """`1234.57` as 123457 minor units: digits and a decimal point only (`1e9`, `+5` are refused),
    at most two decimals, at most `MAX_ROUBLES`; a negative is refused."""
    plain = text.strip().replace(" ", "")
    if plain.startswith("-"):
        raise InvalidInput(N_("amount %(text)r must be zero or more"), text=text)
    if not _PLAIN_AMOUNT.fullmatch(plain):
        raise InvalidInput(N_("amount %(text)r is not a number"), text=text)
    value = Decimal(plain)
    if value != value.quantize(_CENT):
        raise InvalidInput(N_("amount %(text)r has more than two decimals"), text=text)
    if value > MAX_ROUBLES:
        raise InvalidInput(N_("amount %(text)s is more than a billion roubles: check the digits"), text=text)
    return int(value * MINOR_UNITS)


def format_amount(minor: int) -> str:
    return str((Decimal(minor) / MINOR_UNITS).quantize(_CENT))


def allocate(total: int, weights: Sequence[Fraction]) -> list[int]:
    """Cut `total` minor units by `weights` (largest remainder); the parts sum to `total`."""
    whole = sum(weights, Fraction(0))
    if whole <= 0:
        raise InvalidInput(N_("nothing to split by: all weights are zero"))
    exact = [total * w / whole for w in weights]
    parts = [int(e) for e in exact]
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def weights_for(policy: str, contacts: Sequence[Contact], owner: str | None) -> dict[str, Fraction]:
    """Each agent's weight under `policy`; agents in order of their first answered call."""
    agents = _agents_in_order(contacts)
    if policy == "equal":
        return {a: Fraction(1) for a in agents}
    if policy == "talk-time":
        talk = {a: Fraction(0) for a in agents}
        for c in contacts:
            talk[c.agent] += Fraction(c.talk_seconds).limit_denominator(1000)
        return talk if sum(talk.values()) > 0 else {a: Fraction(1) for a in agents}
    if policy == "owner":
        if owner is None:
            raise InvalidInput(N_("the household has no owner to give the booking to"))
        return {owner: Fraction(1)}
    if policy == "first-contact":
        first, rest = agents[0], agents[1:]
        if not rest:
            return {first: Fraction(1)}
        return {first: Fraction(1, 2), **{a: Fraction(1, 2 * len(rest)) for a in rest}}
    raise InvalidInput(
        N_("split policy must be one of %(policies)s, not %(policy)r"),
        policies=", ".join(POLICIES),
        policy=policy,
    )


def split(
    amount: int,
    contacts: Sequence[Contact],
    policy: str,
    *,
    owner: str | None = None,
    override: Mapping[str, Decimal] | None = None,
    co_owners: Sequence[str] = (),
) -> list[Share]:
    """The shares of one booking, each with the answered calls behind it.

    With `co_owners` (a family's equal co-owners, under the `equal` policy)
    the booking is theirs in equal parts, each with their own calls as
    evidence, even one who answered none in the window.
    """
    if override:
        weights = {a: Fraction(p) for a, p in override.items()}
    elif co_owners:
        weights = {a: Fraction(1) for a in dict.fromkeys(co_owners)}
    else:
        if not contacts:
            raise InvalidInput(N_("nobody answered a call of this household in the window"))
        weights = weights_for(policy, contacts, owner)
    agents = list(weights)
    whole = sum(weights.values(), Fraction(0))
    amounts = allocate(amount, [weights[a] for a in agents])
    return [
        Share(
            agent=agent,
            amount=part,
            percent=_percent(weights[agent], whole),
            evidence=tuple(c for c in contacts if c.agent == agent),
        )
        for agent, part in zip(agents, amounts, strict=True)
    ]


def check_override(shares: Mapping[str, Decimal]) -> None:
    """An admin's split must name each agent once, with percentages totalling exactly 100."""
    if not shares:
        raise InvalidInput(N_("an override needs at least one LOGIN=PERCENT"))
    for login, percent in shares.items():
        if not 0 < percent <= 100:
            raise InvalidInput(N_("%(login)s: a percentage must be above 0 and at most 100"), login=login)
    total = sum(shares.values(), Decimal(0))
    if total != 100:
        raise InvalidInput(N_("override percentages total %(total)s, not 100"), total=total)


def parse_override(pairs: Sequence[str]) -> dict[str, Decimal]:
    """`LOGIN=PERCENT` pairs as typed on the command line."""
    shares: dict[str, Decimal] = {}
    for pair in pairs:
        login, sep, text = pair.partition("=")
        login = login.strip()
        if not sep or not login:
            raise InvalidInput(N_("%(pair)r is not LOGIN=PERCENT"), pair=pair)
        if login in shares:
            raise InvalidInput(N_("agent %(login)s is named twice"), login=login)
        try:
            shares[login] = Decimal(text.strip().rstrip("%"))
        except InvalidOperation:
            raise InvalidInput(N_("%(pair)r: %(text)r is not a percentage"), pair=pair, text=text) from None
    check_override(shares)
    return shares


def _percent(weight: Fraction, whole: Fraction) -> Decimal:
    share = weight / whole * 100
    return (Decimal(share.numerator) / Decimal(share.denominator)).quantize(_CENT)


def _agents_in_order(contacts: Sequence[Contact]) -> list[str]:
    seen: dict[str, None] = {}
    for c in sorted(contacts, key=lambda c: (c.at, c.call)):
        seen.setdefault(c.agent, None)
    return list(seen)
