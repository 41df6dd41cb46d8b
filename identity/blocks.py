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
    def __init__(self, numbers: Sequence[int] = (), slots: Sequence[int] = ()) -> None:
        """Bulk-load from parallel lists in any order (sorted once here)."""
        order = sorted(range(len(numbers)), key=numbers.__getitem__)
        self._keys = array("q", (numbers[i] for i in order))
        self._slots = array("i", (slots[i] for i in order))

    def add(self, number: int, slot: int) -> None:
        at = bisect_right(self._keys, number)
        self._keys.insert(at, number)
        self._slots.insert(at, slot)

    def remove(self, number: int, slot: int) -> None:
        for at in range(bisect_left(self._keys, number), bisect_right(self._keys, number)):
            if self._slots[at] == slot:
                del self._keys[at]
                del self._slots[at]
                return

    def holding(self, number: int) -> list[int]:
        """The slots that hold exactly this number."""
        return list(self._slots[bisect_left(self._keys, number) : bisect_right(self._keys, number)])

    def near(self, number: int) -> set[int]:
        """Slots holding a number of the same block or one digit away (the number itself too)."""
        block = number // 100 * 100
        found = set(self._slots[bisect_left(self._keys, block) : bisect_right(self._keys, block + 99)])
        for variant in one_digit_away(str(number)):
            found.update(self.holding(variant))
        return found


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
