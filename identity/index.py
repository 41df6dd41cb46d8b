"""An in-memory index of households that answers "who is this caller's family?" in milliseconds.

A million households cannot be scanned per question, so every household is
filed under blocks, and a question reads only the blocks it shares:

- its members' (surname family stem, full given name) pairs, with surname stems
  one letter away found through a small vocabulary of distinct stems;
- its email and its normalized address;
- its numbers, in one sorted array, so that the same PBX block (all but the
  last two digits) is a range and a number one digit away is a few bisections.

Storage is columnar and interned (arrays of ints, tuples of word ids) to keep a
million households well under a gigabyte; `HouseholdRecord` values exist only
at the edges.
"""

from __future__ import annotations

import gc
import heapq
from array import array
from collections.abc import Iterable, Iterator

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from identity.blocks import Contacts, NumberBlocks
from identity.matching import (
    COMMON_NAME_MAX_PENALTY,
    DEFAULT_THRESHOLD,
    GIVEN_SIMILAR_CUTOFF,
    MAX_NAME_POINTS,
    NUMBER_NEAR,
    SAME_ADDRESS,
    SAME_EMAIL,
    SECOND_PERSON,
    TYPO_MIN_STEM,
    address_key,
    best_name_matches,
    common_name_penalty,
    email_key,
    father_of,
    given_of,
    number_relation,
    parse_names,
    stem_of,
)
from identity.names import PersonName, family_stem, fold, parse_shapes, word
from identity.records import HouseholdRecord, Pair, Query, Suggestion

# A name block this large gives every household in it the full common-name penalty
# (itself and up to two households of the query's own aside).
_CROWDED = next(n for n in range(1, 1000) if common_name_penalty(n - 3) >= COMMON_NAME_MAX_PENALTY)
# Surname stems one letter away are looked for among this many nearest stems.
_NEAR_STEMS = 8


class SuggestionIndex:
    def __init__(self) -> None:
        self._words: list[str] = [""]
        self._shape = array("b", [-1])  # by word id: `Word.shape` of a word of a name, -1 unknown
        self._stem_id = array("i", [0])  # by word id: the word id of a surname's family stem
        self._word_ids: dict[str, int] = {"": 0}
        self._slot_of: dict[int, int] = {}
        self._ids = array("q")
        self._owner = array("i")
        self._members: list[tuple[int, ...]] = []  # (surname, given, patronymic) word ids, flat
        self._numbers: list[tuple[int, ...]] = []  # E.164 digits as ints
        self._by_name: dict[str, dict[str, array[int]]] = {}
        self._stems_by_prefix: dict[str, list[str]] = {}
        self._emails = Contacts()
        self._addresses = Contacts()
        self._numbers_near = NumberBlocks()

    @classmethod
    def build(cls, records: Iterable[HouseholdRecord]) -> SuggestionIndex:
        """Index many households at once: numbers are sorted once at the end.

        A process that keeps the index for long should `gc.freeze()` after
        building it, so that collections do not walk a million households.
        """
        index = cls()
        numbers: list[int] = []
        slots: list[int] = []
        # Millions of small objects and no cycles among them: the cyclic collector would
        # only rescan the growing heap again and again, so it waits until the end.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for record in records:
                index._store(record, (numbers, slots))
        finally:
            if collecting:
                gc.enable()
        index._numbers_near = NumberBlocks(numbers, slots)
        return index

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, household_id: object) -> bool:
        return household_id in self._slot_of

    def ids(self) -> Iterator[int]:
        return iter(self._slot_of)

    def add(self, record: HouseholdRecord) -> None:
        """Index a household, replacing what was indexed under its id."""
        if record.id in self._slot_of:
            self.remove(record.id)
        self._store(record, None)

    update = add

    def remove(self, household_id: int) -> None:
        """Forget a household (merged away or deleted); unknown ids are ignored."""
        slot = self._slot_of.pop(household_id, None)
        if slot is None:
            return
        for surname, given, _ in self._triples(slot):
            by_given = self._by_name.get(stem_of(self._words[surname]), {})
            for key in given_of(self._words[given]) or ("",):
                _discard(by_given, key, slot)
        self._emails.remove(slot)
        self._addresses.remove(slot)
        for number in self._numbers[slot]:
            self._numbers_near.remove(number, slot)
        self._members[slot] = ()
        self._numbers[slot] = ()

    def record(self, household_id: int) -> HouseholdRecord:
        """The indexed household as a value (KeyError when it is not indexed)."""
        slot = self._slot_of[household_id]
        return HouseholdRecord(
            id=household_id,
            owner=self._words[self._owner[slot]] or None,
            members=tuple(_full_name(p) for p in self._persons(slot)),
            numbers=tuple(f"+{n}" for n in self._numbers[slot]),
            email=self._emails.key(slot),
            address=self._addresses.key(slot),
        )

    def suggest(self, query: Query, limit: int = 5, min_score: int = DEFAULT_THRESHOLD) -> list[Suggestion]:
        """The households the query most probably belongs to, best first.

        A household that already holds one of the query's numbers is the
        caller's own, not a suggestion, and is left out.
        """
        names = parse_names(query.names)
        numbers = tuple(n for n in query.numbers if n.startswith("+") and n[1:].isdigit())
        own = {s for n in numbers for s in self._numbers_near.holding(int(n[1:]))}
        if query.exclude in self._slot_of:
            own.add(self._slot_of[query.exclude])
        email, address = email_key(query.email), address_key(query.address)
        found = []
        sharing: dict[tuple[str, str, str | None], frozenset[int]] = {}
        prune = min_score > MAX_NAME_POINTS - COMMON_NAME_MAX_PENALTY
        for slot in self._candidates(names, numbers, email, address, sharing, prune) - own:
            suggestion = self._score(slot, names, numbers, email, address, own, sharing)
            if suggestion.score >= min_score:
                found.append(suggestion)
        return heapq.nsmallest(limit, found, key=lambda s: (-s.score, s.household))

    def households_named(self, name: PersonName) -> int:
        """How many households list a person of this surname family and given name (and
        this patronymic or none, when it is given): 1 means the name alone points at one."""
        stem, father = stem_of(name.surname), father_of(name.patronymic)
        found: set[int] = set()
        for given in given_of(name.given):
            found |= self._with_name(stem, given, father)
        return len(found)

    def household_pairs(self, min_score: int = DEFAULT_THRESHOLD) -> list[Pair]:
        """Pairs of indexed households that are probably one family, best first."""
        best: dict[tuple[int, int], Suggestion] = {}
        for household_id in list(self._slot_of):
            record = self.record(household_id)
            query = Query(record.numbers, record.members, record.email, record.address, record.id)
            for found in self.suggest(query, limit=10, min_score=min_score):
                key = (min(household_id, found.household), max(household_id, found.household))
                if key not in best or found.score > best[key].score:
                    best[key] = found
        pairs = [Pair(a, b, s.score, s.reasons) for (a, b), s in best.items()]
        return sorted(pairs, key=lambda p: (-p.score, p.first, p.second))

    def _store(self, record: HouseholdRecord, pending: tuple[list[int], list[int]] | None) -> None:
        slot = len(self._ids)
        self._slot_of[record.id] = slot
        self._ids.append(record.id)
        self._owner.append(self._word(record.owner or ""))
        triples: list[int] = []
        word_ids, shapes = self._word_ids, self._shape
        for full_name in record.members:
            wids = []
            for text in full_name.replace(",", " ").replace(";", " ").split():
                wid = word_ids.get(text)
                wids.append(self._name_word(text) if wid is None or shapes[wid] < 0 else wid)
            surname_at, given_at, patronymic_at = parse_shapes(tuple([shapes[w] for w in wids]))
            surname = wids[surname_at] if surname_at >= 0 else 0
            given = wids[given_at] if given_at >= 0 else 0
            if surname or given:
                triples += (surname, given, wids[patronymic_at] if patronymic_at >= 0 else 0)
                self._file_name(surname, given, slot)
        self._members.append(tuple(triples))
        email, address = email_key(record.email), address_key(record.address)
        self._emails.add(email, slot)
        self._addresses.add(address, slot)
        digits = tuple([int(n[1:]) for n in record.numbers if n.startswith("+") and n[1:].isdigit()])
        self._numbers.append(digits)
        for number in digits:
            if pending is not None:
                pending[0].append(number)
                pending[1].append(slot)
            else:
                self._numbers_near.add(number, slot)

    def _file_name(self, surname: int, given: int, slot: int) -> None:
        if not surname:
            return
        stem_id = self._stem_id[surname]
        if stem_id == 0:
            stem_id = self._stem_id[surname] = self._word(family_stem(fold(self._words[surname])))
        stem = self._words[stem_id]
        if not stem:
            return
        by_given = self._by_name.get(stem)
        if by_given is None:
            by_given = self._by_name[stem] = {}
            self._stems_by_prefix.setdefault(stem[:2], []).append(stem)
        for key in given_of(self._words[given]) or ("",):
            by_given.setdefault(key, array("i")).append(slot)

    def _candidates(
        self,
        names: tuple[PersonName, ...],
        numbers: tuple[str, ...],
        email: str,
        address: str,
        sharing: dict[tuple[str, str, str | None], frozenset[int]],
        prune: bool,
    ) -> set[int]:
        """Households sharing a block with the query.

        With `prune`, a name block crowded enough that every household in it
        takes the full common-name penalty cannot reach the score asked for
        on the name alone: it is skipped, and only what it shares with the
        block of another person of the query (or a contact, a number) is read.
        """
        slots: set[int] = set()
        crowded: list[frozenset[int]] = []
        for person in names:
            givens = given_of(person.given)
            if not (givens and person.surname):
                continue
            father = father_of(person.patronymic)
            for stem in self._stems_near(stem_of(person.surname)):
                by_given = self._by_name[stem]
                for given in self._givens_near(by_given, givens):
                    if not prune or len(by_given[given]) < _CROWDED:
                        slots.update(by_given[given])
                        continue
                    same = self._sharing(sharing, (stem, given, father))
                    if len(same) < _CROWDED:
                        slots.update(same)
                    else:
                        crowded.append(same)
        for i, crowd in enumerate(crowded):
            for other in crowded[i + 1 :]:
                slots.update(crowd & other)
        slots.update(self._emails.slots(email))
        slots.update(self._addresses.slots(address))
        for number in numbers:
            slots.update(self._numbers_near.near(int(number[1:])))
        return slots

    def _stems_near(self, stem: str) -> list[str]:
        near = [stem] if stem in self._by_name else []
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

    @staticmethod
    def _givens_near(by_given: dict[str, array[int]], givens: frozenset[str]) -> list[str]:
        """The given names filed under one surname stem that match, else the closest spellings."""
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

    def _score(
        self,
        slot: int,
        names: tuple[PersonName, ...],
        numbers: tuple[str, ...],
        email: str,
        address: str,
        own: set[int],
        sharing: dict[tuple[str, str, str | None], frozenset[int]],
    ) -> Suggestion:
        match, second = best_name_matches(names, self._persons(slot), self._by_name)
        points, reasons = match.points, list(match.reasons)
        if second.key is not None:
            points += SECOND_PERSON
            reasons += second.reasons
        email_same = bool(email) and self._emails.key(slot) == email and self._emails.personal(email)
        address_same = (
            bool(address) and self._addresses.key(slot) == address and self._addresses.personal(address)
        )
        if match.key is not None and not (email_same or address_same):
            # A name shared by other households points at none of them, unless a contact does.
            same = self._sharing(sharing, (*match.key, match.patronymic))
            if second.key is not None:
                same &= self._sharing(sharing, (*second.key, second.patronymic))
            others = len(same) - (slot in same) - sum(1 for o in own if o in same)
            penalty = common_name_penalty(others)
            if penalty:
                points -= penalty
                reasons.append(f"common name: {others + 1} households")
        if email_same:
            points += SAME_EMAIL
            reasons.append(f"same email: {email}")
        if address_same:
            points += SAME_ADDRESS
            reasons.append("same address")
        relation = next(
            (
                r
                for q in numbers
                for n in self._numbers[slot]
                if (r := number_relation(q, f"+{n}")) is not None
            ),
            None,
        )
        if relation is not None:
            points += NUMBER_NEAR
            reasons.append(relation)
        return Suggestion(
            household=self._ids[slot],
            score=max(0, min(100, points)),
            owner=self._words[self._owner[slot]] or None,
            reasons=tuple(reasons),
        )

    def _sharing(
        self, cache: dict[tuple[str, str, str | None], frozenset[int]], key: tuple[str, str, str | None]
    ) -> frozenset[int]:
        if key not in cache:
            cache[key] = self._with_name(*key)
        return cache[key]

    def _with_name(self, stem: str, given: str, father: str | None) -> frozenset[int]:
        """Households with a member of this surname family and given name, and, when `father`
        is set, that father's patronymic or none written."""
        slots = self._by_name.get(stem, {}).get(given, ())
        if father is None:
            return frozenset(slots)
        words = self._words
        return frozenset(
            slot
            for slot in slots
            if any(
                father_of(words[p]) in (father, None)
                and stem_of(words[s]) == stem
                and given in given_of(words[g])
                for s, g, p in self._triples(slot)
            )
        )

    def _persons(self, slot: int) -> tuple[PersonName, ...]:
        words = self._words
        return tuple(PersonName(words[s], words[g], words[p]) for s, g, p in self._triples(slot))

    def _triples(self, slot: int) -> Iterator[tuple[int, int, int]]:
        flat = self._members[slot]
        for i in range(0, len(flat), 3):
            yield flat[i], flat[i + 1], flat[i + 2]

    def _word(self, text: str) -> int:
        found = self._word_ids.get(text)
        if found is None:
            found = self._word_ids[text] = len(self._words)
            self._words.append(text)
            self._shape.append(-1)
            self._stem_id.append(0)
        return found

    def _name_word(self, text: str) -> int:
        """A word of a name, folded and classified once however many people share it."""
        wid = self._word(text)
        if self._shape[wid] < 0:
            self._shape[wid] = word(text).shape
        return wid


def _discard(postings: dict[str, array[int]], key: str, slot: int) -> None:
    slots = postings.get(key)
    if slots is not None and slot in slots:
        slots.remove(slot)
        if not slots:
            del postings[key]


def _full_name(person: PersonName) -> str:
    return " ".join(p for p in (person.surname, person.given, person.patronymic) if p)
