"""The non-name blocks of the suggestion index: numbers by neighbourhood, emails and addresses.

Numbers live in one sorted array of E.164 digits with a parallel array of
household slots: the same PBX block (all but the last two digits) is one
range, and every number one digit away is a handful of bisections, so no
per-number object is kept for a million households. Most emails and
addresses belong to one household, so a key holds a bare slot until a
second household shares it.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence

from identity.matching import SHARED_CONTACT_MAX


class NumberBlocks:
    """Numbers by neighbourhood: the bulk-loaded sorted arrays, and a short sorted tail of those added since.

    Inserting into the big arrays moves everything after the new number: at a
    million households that was 0.7 ms for each new family a lead made. A
    number added goes into the tail instead; at `MERGE_AT` numbers the tail is
    spliced into the big arrays in one pass of slice copies (milliseconds,
    once per `MERGE_AT` new numbers). Equal numbers keep the order they came
    in: the big arrays' first, then the tail's.
    """

    MERGE_AT = 65_536

    def __init__(self, numbers: Sequence[int] = (), slots: Sequence[int] = ()) -> None:
        """Bulk-load from parallel lists in any order (sorted once here)."""
        order = sorted(range(len(numbers)), key=numbers.__getitem__)
        self._keys = array("q", (numbers[i] for i in order))
        self._slots = array("i", (slots[i] for i in order))
        self._tail_keys = array("q")
        self._tail_slots = array("i")

    def add(self, number: int, slot: int) -> None:
        at = bisect_right(self._tail_keys, number)
        self._tail_keys.insert(at, number)
        self._tail_slots.insert(at, slot)
        if len(self._tail_keys) >= self.MERGE_AT:
            self._merge()

    def remove(self, number: int, slot: int) -> None:
        for keys, slots in ((self._keys, self._slots), (self._tail_keys, self._tail_slots)):
            for at in range(bisect_left(keys, number), bisect_right(keys, number)):
                if slots[at] == slot:
                    del keys[at]
                    del slots[at]
                    return

    def holding(self, number: int) -> list[int]:
        """The slots that hold exactly this number."""
        return self._between(number, number)

    def near(self, number: int) -> set[int]:
        """Slots holding a number of the same block or one digit away (the number itself too)."""
        block = number // 100 * 100
        found = set(self._between(block, block + 99))
        for variant in one_digit_away(str(number)):
            found.update(self.holding(variant))
        return found

    def _between(self, low: int, high: int) -> list[int]:
        """The slots of the numbers from `low` to `high`, both included."""
        found = list(self._slots[bisect_left(self._keys, low) : bisect_right(self._keys, high)])
        if self._tail_keys:
            tail = self._tail_keys
            found.extend(self._tail_slots[bisect_left(tail, low) : bisect_right(tail, high)])
        return found

    def _merge(self) -> None:
        keys, slots = array("q"), array("i")
        start = 0
        for number, slot in zip(self._tail_keys, self._tail_slots, strict=True):
            at = bisect_right(self._keys, number, start)
            keys.extend(self._keys[start:at])
            slots.extend(self._slots[start:at])
            keys.append(number)
            slots.append(slot)
            start = at
        keys.extend(self._keys[start:])
        slots.extend(self._slots[start:])
        self._keys, self._slots = keys, slots
        self._tail_keys, self._tail_slots = array("q"), array("i")


def one_digit_away(digits: str) -> Iterator[int]:
    """Every number one substitution or one swap of neighbours away (same length)."""
    for i, digit in enumerate(digits):
        for other in "0123456789":
            if other != digit:
                yield int(digits[:i] + other + digits[i + 1 :])
        if i + 1 < len(digits) and digits[i + 1] != digit:
            yield int(digits[:i] + digits[i + 1] + digit + digits[i + 2 :])


class Contacts:
    """Households by normalized email or address."""

    def __init__(self) -> None:
        self._slots: dict[str, int | array[int]] = {}
        self._key_of: dict[int, str] = {}

    def add(self, key: str, slot: int) -> None:
        if not key:
            return
        self._key_of[slot] = key
        found = self._slots.get(key)
        if found is None:
            self._slots[key] = slot
        elif isinstance(found, int):
            self._slots[key] = array("i", (found, slot))
        else:
            found.append(slot)

    def remove(self, slot: int) -> None:
        key = self._key_of.pop(slot, None)
        if key is None:
            return
        found = self._slots[key]
        if isinstance(found, int):
            del self._slots[key]
        else:
            found.remove(slot)
            if len(found) == 1:
                self._slots[key] = found[0]

    def key(self, slot: int) -> str:
        return self._key_of.get(slot, "")

    def slots(self, key: str) -> Sequence[int]:
        found = self._slots.get(key) if key else None
        if found is None:
            return ()
        return (found,) if isinstance(found, int) else found

    def personal(self, key: str) -> bool:
        """A contact of a few households, not an office's or an agency's shared one."""
        return len(self.slots(key)) <= SHARED_CONTACT_MAX
