"""An in-memory index of households that answers "who is this caller's family?" in milliseconds.

A million households cannot be scanned per question, so every household is
filed under blocks, and a question reads only the blocks it shares:

- its members' (surname family stem, full given name) pairs, and the whole
  surname family when it is rare (`identity.postings`);
- its email and its normalized address;
- its numbers, in one sorted array, so that the same PBX block (all but the
  last two digits) is a range and a number one digit away is a few bisections.

Storage is columnar and interned (arrays of ints, tuples of word ids) to keep a
million households well under a gigabyte; `HouseholdRecord` values exist only
at the edges. What a question's candidates score is `identity.scoring`.
"""

from __future__ import annotations

import gc
import heapq
from array import array
from collections.abc import Container, Iterable, Iterator, Sequence

from identity.blocks import Contacts, NumberBlocks
from identity.matching import (
    CHILD_OF_MEMBER,
    COMMON_NAME_MAX_PENALTY,
    DEFAULT_THRESHOLD,
    GIVEN_SAME,
    PATRONYMIC_SAME,
    SECOND_PERSON,
    SHOW_THRESHOLD,
    SPOUSE_PAIR,
    SURNAME_SAME_FAMILY,
    address_key,
    common_name_penalty,
    email_key,
    father_of,
    given_of,
    parse_names,
    stems_of,
)
from identity.names import PersonName, father_root, fold, parse_shapes, word
from identity.postings import NamePostings
from identity.records import HouseholdRecord, Pair, Query, Suggestion
from identity.scoring import Scorer

# A name block this large gives every household in it the full common-name penalty
# (itself and up to two households of the query's own aside).
_CROWDED = next(n for n in range(1, 1000) if common_name_penalty(n - 3) >= COMMON_NAME_MAX_PENALTY)
# The most a household read only as a sample of a common name can score: a common surname
# (no rarity) as a spouse's or a child's, or a crowded full name with everything else named.
_FILLER_MAX = max(
    SURNAME_SAME_FAMILY + SPOUSE_PAIR + CHILD_OF_MEMBER,
    SURNAME_SAME_FAMILY + GIVEN_SAME + PATRONYMIC_SAME + SECOND_PERSON - COMMON_NAME_MAX_PENALTY,
)


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
        self._names = NamePostings()
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
        self._names.count(self._stems_of_slot(slot), -1)
        for surname, given, _ in self._triples(slot):
            for stem in stems_of(self._words[surname]):
                self._names.discard(stem, given_of(self._words[given]) or ("",), slot)
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
            members=tuple(_full_name(p) for p in self.persons(slot)),
            numbers=tuple(f"+{n}" for n in self._numbers[slot]),
            email=self._emails.key(slot),
            address=self._addresses.key(slot),
        )

    def suggest(self, query: Query, limit: int = 5, min_score: int = SHOW_THRESHOLD) -> list[Suggestion]:
        """The households the query most probably belongs to, best first.

        A household that already holds one of the query's numbers is the
        caller's own, not a suggestion, and is left out.
        """
        names = parse_names(query.names)
        numbers = tuple(n for n in query.numbers if n.startswith("+") and n[1:].isdigit())
        own = {s for n in numbers for s in self._numbers_near.holding(int(n[1:]))}
        if query.exclude in self._slot_of:
            own.add(self._slot_of[query.exclude])
        scorer = Scorer(
            self, names, numbers, email_key(query.email), address_key(query.address), own, query.called_after
        )
        candidates, filler = self._candidates(scorer, limit)
        found = [s for s in map(scorer.score, candidates - own) if s.score >= min_score]
        if sum(1 for s in found if s.score >= _FILLER_MAX) < limit:
            # Samples of common names, all alike on the name, to fill the list with.
            found += [s for s in map(scorer.score, filler - candidates - own) if s.score >= min_score]
        return heapq.nsmallest(limit, found, key=lambda s: (-s.score, s.household))

    def households_named(self, name: PersonName) -> int:
        """How many households list a person of this surname family and given name (and
        this patronymic or none, when it is given): 1 means the name alone points at one."""
        stems, father = stems_of(name.surname), father_of(name.patronymic)
        found: set[int] = set()
        for given in given_of(name.given):
            for stem in stems[:1]:
                found |= self.with_name(stem, given, father)
        return len(found)

    def families(self, stem: str) -> int:
        """How many households have a member of this surname family stem."""
        return self._names.families(stem)

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
        stems: set[str] = set()
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
                stems.update(self._file_name(surname, given, slot))
        self._members.append(tuple(triples))
        self._names.count(stems, +1)
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

    def _file_name(self, surname: int, given: int, slot: int) -> tuple[str, ...]:
        """File a member under its surname's stems, and return them."""
        if not surname:
            return ()
        stems = self._stems_of_word(surname)
        for stem in stems:
            self._names.file(stem, given_of(self._words[given]) or ("",), slot)
        return stems

    def _stems_of_word(self, surname: int) -> tuple[str, ...]:
        """A surname's family stems; the one stem of a plain surname interned once per word."""
        text = self._words[surname]
        if "-" in text:
            return stems_of(text)
        stem_id = self._stem_id[surname]
        if stem_id == 0:
            stems = stems_of(text)
            stem_id = self._stem_id[surname] = self._word(stems[0] if stems else "")
        stem = self._words[stem_id]
        return (stem,) if stem else ()

    def _stems_of_slot(self, slot: int) -> set[str]:
        return {stem for s, _, _ in self._triples(slot) if s for stem in self._stems_of_word(s)}

    def _candidates(self, scorer: Scorer, sample: int) -> tuple[set[int], set[int]]:
        """Households sharing a block with the question, and samples to fill the list with.

        A surname family of a few households is read whole; of a commoner one,
        a sample. A name block crowded enough that every household in it takes
        the full common-name penalty is sampled too, and what it shares with the
        block of another person of the query (or a contact, a number) is read.
        """
        slots: set[int] = set()
        filler: set[int] = set()
        crowded: list[frozenset[int]] = []
        for person in scorer.names:
            if not person.surname:
                continue
            stems = stems_of(person.surname)
            root = father_root(fold(person.patronymic)) if person.patronymic else None
            for stem in stems:
                self._names.read_stem(stem, root, slots, filler, sample)
            givens = given_of(person.given)
            if not (givens and stems):
                continue
            father = father_of(person.patronymic)
            for stem in self._names.stems_near(stems[0]):
                for given in self._names.givens_near(stem, givens):
                    block = self._names.block(stem, given)
                    if len(block) < _CROWDED:
                        slots.update(block)
                        continue
                    filler.update(block[:sample])
                    same = scorer.sharing((stem, given, father))
                    if len(same) < _CROWDED:
                        slots.update(same)
                    else:
                        crowded.append(same)
        for i, crowd in enumerate(crowded):
            for other in crowded[i + 1 :]:
                slots.update(crowd & other)
        slots.update(self._emails.slots(scorer.email))
        slots.update(self._addresses.slots(scorer.address))
        for number in scorer.numbers:
            slots.update(self._numbers_near.near(int(number[1:])))
        slots.update(self._slot_of[h] for h in scorer.called_after if h in self._slot_of)
        return slots, filler

    def with_name(self, stem: str, given: str, father: str | None) -> frozenset[int]:
        """Households with a member of this surname family and given name, and, when `father`
        is set, that father's patronymic or none written."""
        slots = self._names.block(stem, given)
        if father is None:
            return frozenset(slots)
        words = self._words
        return frozenset(
            slot
            for slot in slots
            if any(
                father_of(words[p]) in (father, None)
                and stem in stems_of(words[s])
                and given in given_of(words[g])
                for s, g, p in self._triples(slot)
            )
        )

    # What `identity.scoring` reads of a slot (its `Directory`).

    @property
    def known_stems(self) -> Container[str]:
        return self._names

    def numbers_of(self, slot: int) -> Sequence[int]:
        return self._numbers[slot]

    def email_of(self, slot: int) -> str:
        return self._emails.key(slot)

    def address_of(self, slot: int) -> str:
        return self._addresses.key(slot)

    def shared_email(self, key: str) -> bool:
        return not self._emails.personal(key)

    def shared_address(self, key: str) -> bool:
        return not self._addresses.personal(key)

    def household_of(self, slot: int) -> int:
        return self._ids[slot]

    def owner_of(self, slot: int) -> str | None:
        return self._words[self._owner[slot]] or None

    def has_stem(self, slot: int, stem: str) -> bool:
        return stem in self._stems_of_slot(slot)

    def persons(self, slot: int) -> tuple[PersonName, ...]:
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


def _full_name(person: PersonName) -> str:
    return " ".join(p for p in (person.surname, person.given, person.patronymic) if p)
