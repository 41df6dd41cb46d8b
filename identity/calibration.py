"""What a score means: the share of right suggestions at that score, measured on labelled callers.

A score is points (`identity.matching`), not a probability; this table turns
it into one. Each band is the best suggestions of the labelled evaluation
(`make bench`: the synthetic directory of 1,000,000 households and the
hand-written hard cases, `bench/suggest_eval.py`) whose score fell in it, and
the share of them that named the caller's true household. New callers, whose
every suggestion is wrong, are part of it in the proportion they arrive.

The automatic threshold is the lowest band from which the best suggestions,
all together, are right at least `AUTO_TARGET` of the time: a lead whose best
suggestion scores that much may be assigned without a person (the setting
`suggest_auto_threshold` defaults to it). When the matching changes, run
`make bench` and copy the table it prints here; a test checks the threshold
against the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

AUTO_TARGET = 0.98
BAND_WIDTH = 5
# A band with fewer questions than this says little; it is printed, never trusted alone.
MIN_BAND_CASES = 20


@dataclass(frozen=True, slots=True)
class Band:
    low: int
    high: int
    cases: int
    right: int

    @property
    def share(self) -> float:
        return self.right / self.cases if self.cases else 0.0


# Measured by `make bench` at 1,000,000 households (see README, Suggestions).
BANDS: tuple[Band, ...] = (
    Band(15, 19, 29, 0),
    Band(20, 24, 25, 1),
    Band(30, 34, 14, 3),
    Band(35, 39, 8, 3),
    Band(40, 44, 1460, 51),
    Band(45, 49, 410, 103),
    Band(50, 54, 162, 27),
    Band(55, 59, 259, 164),
    Band(60, 64, 463, 378),
    Band(65, 69, 258, 210),
    Band(70, 74, 161, 145),
    Band(75, 79, 539, 531),
    Band(80, 84, 230, 227),
    Band(85, 89, 90, 89),
    Band(90, 94, 202, 201),
    Band(95, 100, 691, 691),
)


def bands_of(scored: Iterable[tuple[int, bool]]) -> list[Band]:
    """The calibration table of (score, right) pairs: one band per BAND_WIDTH points."""
    cases: dict[int, list[int]] = {}
    for score, right in scored:
        low = min(score, 100) // BAND_WIDTH * BAND_WIDTH
        low = min(low, 100 - BAND_WIDTH)
        tally = cases.setdefault(low, [0, 0])
        tally[0] += 1
        tally[1] += right
    return [
        Band(low, 100 if low == 100 - BAND_WIDTH else low + BAND_WIDTH - 1, n, right)
        for low, (n, right) in sorted(cases.items())
    ]


def threshold_of(bands: Sequence[Band], target: float = AUTO_TARGET) -> int:
    """The lowest band's low score from which all bands above, together, are right `target`
    of the time (101 when none is: nothing is applied without a person)."""
    threshold, cases, right = 101, 0, 0
    for band in sorted(bands, key=lambda b: -b.low):
        cases, right = cases + band.cases, right + band.right
        if cases >= MIN_BAND_CASES and right >= target * cases:
            threshold = band.low
        elif cases >= MIN_BAND_CASES:
            break
    return threshold


def auto_threshold(scored: Iterable[tuple[int, bool]], target: float = AUTO_TARGET) -> int:
    return threshold_of(bands_of(scored), target)


def confidence(score: int) -> float | None:
    """The share of right suggestions at this score on the labelled set (None: too few seen)."""
    for band in BANDS:
        if band.low <= score <= band.high:
            return round(band.share, 3) if band.cases >= MIN_BAND_CASES else None
    return None


AUTO_THRESHOLD = threshold_of(BANDS)
