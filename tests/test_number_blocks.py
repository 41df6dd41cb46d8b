"""The suggestion index's numbers by neighbourhood: numbers added after loading are found as loaded ones are.

New families' numbers go to a short tail that is spliced into the loaded
arrays now and then (inserting into the arrays of a million households
cost 0.7 ms a family); whatever was added, removed or merged, every answer
must be the one a plain list in insertion order gives.
"""

from __future__ import annotations

import random

from identity.blocks import NumberBlocks, one_digit_away


def _reference_holding(entries: list[tuple[int, int]], number: int) -> list[int]:
    return [slot for key, slot in sorted(entries, key=lambda e: e[0]) if key == number]


def _reference_near(entries: list[tuple[int, int]], number: int) -> set[int]:
    wanted = set(one_digit_away(str(number))) | {number}
    block = number // 100 * 100
    return {slot for key, slot in entries if key in wanted or block <= key <= block + 99}


def test_numbers_added_after_loading_are_found_before_and_after_the_tail_is_merged() -> None:
    rng = random.Random(7)
    base = 79160000000
    loaded = [(base + rng.randrange(2000), slot) for slot in range(300)]
    blocks = NumberBlocks([k for k, _ in loaded], [s for _, s in loaded])
    blocks.MERGE_AT = 16
    entries = list(loaded)
    for slot in range(300, 400):
        # Some numbers shared with a loaded or an earlier added household, in the order they came.
        number = rng.choice(entries)[0] if slot % 5 == 0 else base + rng.randrange(2000)
        blocks.add(number, slot)
        entries.append((number, slot))
        if slot % 7 == 0:
            gone = entries.pop(rng.randrange(len(entries)))
            blocks.remove(*gone)
        probe = rng.choice(entries)[0]
        assert blocks.holding(probe) == _reference_holding(entries, probe)
        assert blocks.near(probe) == _reference_near(entries, probe)
    assert sorted(s for n in {k for k, _ in entries} for s in blocks.holding(n)) == sorted(
        s for _, s in entries
    )
