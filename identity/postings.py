"""The name blocks of the suggestion index: households by surname family stem and given name.

A question reads a few of these blocks, never all names: the (stem, given
name) block of each person it names, the stems one letter away (a typo)
found through a small vocabulary of distinct stems that share the first two
letters, and the whole surname family when it is rare enough to rank all its
households (a sample when it is common, since a common surname earns no
rarity and cannot lift one household above the others on its own). How many
households each stem has is kept here too: the surname's rarity.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from identity.matching import GIVEN_SIMILAR_CUTOFF, TYPO_MIN_STEM
from identity.names import is_father

# Surname stems one letter away are looked for among this many nearest stems.
_NEAR_STEMS = 8
# A surname of at most this many households, rare enough to earn points, is read whole;
# of a commoner one, which earns none (`identity.matching.surname_rarity`), a sample as
# long as the list asked for fills it when nothing better does: its households are all
# alike on the surname, and those with another signal come in through that signal's block.
STEM_READ_ALL = 8
# The father's block a child's patronymic points at is read up to this size (beyond, it is
# worth nothing: `identity.matching.father_rarity`).
_FATHER_READ_MAX = 4


class NamePostings:
    def __init__(self) -> None:
        self.by_name: dict[str, dict[str, array[int]]] = {}
        self._stems_by_prefix: dict[str, list[str]] = {}
        self._families: dict[str, int] = {}

    def __contains__(self, stem: object) -> bool:
        return stem in self.by_name

    def file(self, stem: str, givens: Iterable[str], slot: int) -> None:
        """File a member under its stem and each full given name (or "" without one)."""
        by_given = self.by_name.get(stem)
        if by_given is None:
            by_given = self.by_name[stem] = {}
            self._stems_by_prefix.setdefault(stem[:2], []).append(stem)
        for key in givens:
            by_given.setdefault(key, array("i")).append(slot)

    def discard(self, stem: str, givens: Iterable[str], slot: int) -> None:
        by_given = self.by_name.get(stem, {})
        for key in givens:
            slots = by_given.get(key)
            if slots is not None and slot in slots:
                slots.remove(slot)
                if not slots:
                    del by_given[key]

    def count(self, stems: Iterable[str], change: int) -> None:
        """A household with these stems came (+1) or went (-1)."""
        for stem in stems:
            left = self._families.get(stem, 0) + change
            if left:
                self._families[stem] = left
            else:
                self._families.pop(stem, None)

    def families(self, stem: str) -> int:
        """How many households have a member of this surname family stem."""
        return self._families.get(stem, 0)

    def block(self, stem: str, given: str) -> array[int] | tuple[()]:
        return self.by_name.get(stem, {}).get(given, ())

    def read_stem(
        self, stem: str, father_root: str | None, slots: set[int], filler: set[int], sample: int
    ) -> None:
        """The households of a rare surname stem into `slots` (a sample of a common one into
        `filler`), and the families whose member's given name a child's patronymic comes from."""
        by_given = self.by_name.get(stem)
        if by_given is None:
            return
        whole = self.families(stem) <= STEM_READ_ALL
        sampled = 0
        for given, block in by_given.items():
            if whole:
                slots.update(block)
            elif sampled < sample:
                filler.update(block[: sample - sampled])
                sampled += min(len(block), sample - sampled)
            if father_root and given and len(block) <= _FATHER_READ_MAX and is_father(father_root, given):
                slots.update(block)

    def stems_near(self, stem: str) -> list[str]:
        """The stem itself when filed, and filed stems one letter away from it."""
        near = [stem] if stem in self.by_name else []
        if len(stem) >= TYPO_MIN_STEM:
            found = process.extract(
                stem,
                self._stems_by_prefix.get(stem[:2], ()),
                scorer=OSA.distance,
                processor=None,
                score_cutoff=1,
                limit=_NEAR_STEMS,
            )
            near += [other for other, _, _ in found if other != stem]
        return near

    def givens_near(self, stem: str, givens: frozenset[str]) -> list[str]:
        """The given names filed under one surname stem that match, else the closest spellings."""
        by_given = self.by_name[stem]
        exact = [g for g in givens if g in by_given]
        if exact:
            return exact
        found = process.extract(
            min(givens),
            [g for g in by_given if g],
            scorer=fuzz.ratio,
            processor=None,
            score_cutoff=GIVEN_SIMILAR_CUTOFF,
            limit=3,
        )
        return [g for g, _, _ in found]
