"""One question's scores: how well each candidate household fits the caller, and why.

Kept apart from the index's postings (`identity.index`): the index finds the
few households that share a block with the question, this module weighs
them. A surname counts for more the rarer its family stem is in the
directory (a term-frequency adjustment, as Fellegi–Sunter models and Splink
make it): the only Толстой family is a strong candidate on the surname alone,
one of twenty Ивановы is not, and says so ("20 families share this surname").
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from typing import Protocol

from identity import reasons as r
from identity.matching import (
    CHILD_OF_MEMBER,
    NUMBER_NEAR,
    SAME_ADDRESS,
    SAME_EMAIL,
    SECOND_PERSON,
    SPOUSE_PAIR,
    SURNAME_SAME_FAMILY,
    best_name_matches,
    called_after_points,
    common_name_penalty,
    father_rarity,
    number_relation,
    surname_rarity,
)
from identity.names import PersonName
from identity.reasons import reason
from identity.records import Suggestion

NameKey = tuple[str, str, str | None]


class Directory(Protocol):
    """What scoring reads of the index, slot by slot."""

    @property
    def known_stems(self) -> Container[str]: ...
    def persons(self, slot: int) -> tuple[PersonName, ...]: ...
    def numbers_of(self, slot: int) -> Sequence[int]: ...
    def email_of(self, slot: int) -> str: ...
    def address_of(self, slot: int) -> str: ...
    def shared_email(self, key: str) -> bool: ...
    def shared_address(self, key: str) -> bool: ...
    def household_of(self, slot: int) -> int: ...
    def owner_of(self, slot: int) -> str | None: ...
    def families(self, stem: str) -> int: ...
    def has_stem(self, slot: int, stem: str) -> bool: ...
    def with_name(self, stem: str, given: str, father: str | None) -> frozenset[int]: ...


class Scorer:
    """The question, parsed once, and what its households share, counted once."""

    def __init__(
        self,
        directory: Directory,
        names: tuple[PersonName, ...],
        numbers: tuple[str, ...],
        email: str,
        address: str,
        own: set[int],
        called_after: tuple[tuple[int, int, str], ...] = (),
    ) -> None:
        self.directory = directory
        self.called_after = {household: (minutes, number) for household, minutes, number in called_after}
        self.names = names
        self.numbers = numbers
        self.email = email
        self.address = address
        self.own = own
        self._sharing: dict[NameKey, frozenset[int]] = {}

    def sharing(self, key: NameKey) -> frozenset[int]:
        """Households with a member of this (stem, given name, father) as the index files them."""
        if key not in self._sharing:
            self._sharing[key] = self.directory.with_name(*key)
        return self._sharing[key]

    def score(self, slot: int) -> Suggestion:
        d = self.directory
        match, second = best_name_matches(self.names, d.persons(slot), d.known_stems)
        points, reasons = match.points, list(match.reasons)
        if second.key is not None:
            points += SECOND_PERSON
            reasons += second.reasons
        email_same = bool(self.email) and d.email_of(slot) == self.email and not d.shared_email(self.email)
        address_same = (
            bool(self.address) and d.address_of(slot) == self.address and not d.shared_address(self.address)
        )
        penalty = 0
        if match.key is not None and not (email_same or address_same):
            # A name shared by other households points at none of them, unless a contact does.
            same = self.sharing((*match.key, match.patronymic))
            if second.key is not None:
                same &= self.sharing((*second.key, second.patronymic))
            others = self._others(slot, same)
            penalty = common_name_penalty(others)
            if penalty:
                points -= penalty
                if match.stem:
                    # However shared, a full name says more than the surname and the other
                    # sex: it never scores below a spouse of the same surname family.
                    floor = SURNAME_SAME_FAMILY + SPOUSE_PAIR + 1
                    points = max(points, floor + surname_rarity(self._other_families(slot, match.stem)))
                reasons.append(reason(r.COMMON_NAME, count=others + 1))
        if match.stem and not penalty:
            # A namesake's count already says how common the name is; else the surname's does.
            others = self._other_families(slot, match.stem)
            points += surname_rarity(others)
            if others == 0:
                reasons.append(reason(r.ONLY_FAMILY))
            else:
                reasons.append(reason(r.SHARED_SURNAME, count=others + 1))
        if match.father is not None:
            fathers = self.sharing((*match.father, None))
            points -= CHILD_OF_MEMBER - father_rarity(self._others(slot, fathers))
        if email_same:
            points += SAME_EMAIL
            reasons.append(reason(r.SAME_EMAIL, email=self.email))
        if address_same:
            points += SAME_ADDRESS
            reasons.append(reason(r.SAME_ADDRESS))
        relation = next(
            (
                found
                for q in self.numbers
                for n in d.numbers_of(slot)
                if (found := number_relation(q, f"+{n}")) is not None
            ),
            None,
        )
        if relation is not None:
            points += NUMBER_NEAR
            reasons.append(relation)
        household = d.household_of(slot)
        if household in self.called_after:
            minutes, number = self.called_after[household]
            points += called_after_points(len(self.called_after))
            reasons.append(reason(r.CALLED_AFTER, minutes=minutes, number=number))
        return Suggestion(
            household=household,
            score=max(0, min(100, points)),
            owner=d.owner_of(slot),
            reasons=tuple(reasons),
        )

    def _others(self, slot: int, same: frozenset[int]) -> int:
        """Households of `same` other than this one and the caller's own."""
        return len(same) - (slot in same) - sum(1 for o in self.own if o in same)

    def _other_families(self, slot: int, stem: str) -> int:
        """Other households of this surname stem, the caller's own aside."""
        d = self.directory
        mine = sum(1 for o in self.own if o != slot and d.has_stem(o, stem))
        return max(0, d.families(stem) - int(d.has_stem(slot, stem)) - mine)
