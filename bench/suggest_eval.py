"""Labelled evaluation of suggestions, against the goals of issue 20, and the calibration table.

Every labelled question is asked once (`answer`); the outcomes are then cut
three ways, as the issue asks:

- the caller's surname family is on one household of the directory (unique
  stem): precision and recall at the likely threshold, for spouses (listed or
  not) and second phones, and top-1 whatever the score. New callers whose
  surname is unique in the directory (a stranger of a rare surname: every
  suggestion for them is wrong) count against precision, in full in the
  "all" row and in proportion to each kind's share in the others;
- shared surname with a second signal (the caller's full name on one
  household, an email, an address, the partner's name, a number close to
  the family's, a patronymic from a member's given name): the true household
  among the first three;
- shared surname with nothing else: a suggestion is shown, with the count of
  families sharing the surname, and none is at or above the automatic
  threshold.

The calibration table is the share of right best suggestions per score band,
over every labelled question (new callers' are all wrong); the automatic
threshold is the lowest score from which the best suggestions are right at
least 98 % of the time. `identity/calibration.py` holds the table measured
at 1,000,000 households: `make bench` prints the one it measures beside it.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.synthetic_families import NEW_CALLER, SECOND_PHONE, SPOUSE, UNLISTED_SPOUSE, Case
from identity.calibration import AUTO_TARGET, AUTO_THRESHOLD, BANDS, auto_threshold, bands_of
from identity.index import SuggestionIndex
from identity.matching import DEFAULT_THRESHOLD, number_relation, stem_of
from identity.names import PersonName, parse_name
from identity.reasons import COMMON_NAME, SHARED_SURNAME
from identity.records import HouseholdRecord, Query, Suggestion

HARD_CASES = Path(__file__).resolve().parent.parent / "tests" / "data" / "suggest_hard_cases.toml"
CHILD = "child"
_SPOUSES = (SPOUSE, UNLISTED_SPOUSE)
_COUNT_REASONS = (SHARED_SURNAME.split("{count}")[1], COMMON_NAME.split("{count}")[0])


@dataclass(frozen=True, slots=True)
class Outcome:
    """One labelled question and what the index answered (best first, any score)."""

    kind: str
    truth: int | None
    unique: bool  # the caller's surname family is on exactly one household
    second_signal: bool  # something beyond the surname points at the family
    found: tuple[Suggestion, ...]

    @property
    def top(self) -> Suggestion | None:
        return self.found[0] if self.found else None

    @property
    def right(self) -> bool:
        return self.top is not None and self.top.household == self.truth


def answer(index: SuggestionIndex, cases: Iterable[Case]) -> list[Outcome]:
    outcomes = []
    for case in cases:
        found = tuple(index.suggest(case.query, limit=5, min_score=0))
        families = index.families(stem_of(case.said.surname))
        signal = case.more or index.households_named(case.said) == 1
        if case.truth is not None and not signal:
            truth_numbers = index.record(case.truth).numbers
            signal = any(number_relation(q, n) for q in case.query.numbers for n in truth_numbers)
        outcomes.append(Outcome(case.kind, case.truth, families == 1, signal, found))
    return outcomes


def hard_cases(path: Path = HARD_CASES) -> tuple[list[HouseholdRecord], list[Case]]:
    """The hand-written directory and its labelled callers."""
    data = tomllib.loads(path.read_text("utf-8"))
    records = [
        HouseholdRecord(
            id=h["id"],
            owner=None,
            members=tuple(h.get("members", ())),
            numbers=tuple(h.get("numbers", ())),
            email=h.get("email", ""),
            address=h.get("address", ""),
        )
        for h in data["household"]
    ]
    cases = []
    for c in data["case"]:
        query = Query(
            numbers=tuple(c.get("numbers", ())),
            names=tuple(c.get("names", ())),
            email=c.get("email", ""),
            address=c.get("address", ""),
        )
        said = parse_name(query.names[0]) if query.names else PersonName()
        more = len(query.names) > 1 or bool(query.email or query.address) or c["kind"] == CHILD
        cases.append(Case(c["kind"], query, c["truth"] or None, said, more))
    return records, cases


def report(outcomes: Sequence[Outcome], title: str) -> None:
    """Print the issue's three cuts (against the automatic threshold in use) and the
    calibration table measured on `outcomes`."""
    print(f"{title}: {len(outcomes):,} labelled questions")
    _overall(outcomes)
    _unique(outcomes)
    _shared(outcomes, AUTO_THRESHOLD)
    _calibration(outcomes, auto_threshold(outcomes_scored(outcomes)))


def outcomes_scored(outcomes: Iterable[Outcome]) -> list[tuple[int, bool]]:
    """(score, right) of each best suggestion: what the calibration is made of."""
    return [(o.top.score, o.right) for o in outcomes if o.top is not None]


def _overall(outcomes: Sequence[Outcome]) -> None:
    """Every family's caller, unique surname or not, as the previous stops measured it."""
    families = [o for o in outcomes if o.truth is not None]
    likely = [o for o in outcomes if o.top is not None and o.top.score >= DEFAULT_THRESHOLD]
    right = sum(1 for o in likely if o.right)
    print(
        f"  every caller, at {DEFAULT_THRESHOLD}: {len(families):,} of a family, "
        f"{len(outcomes) - len(families):,} new: precision {right / max(1, len(likely)):.3f}  "
        f"recall {right / max(1, len(families)):.3f}  "
        f"top-1 {sum(1 for o in families if o.right) / max(1, len(families)):.3f}"
    )


def _unique(outcomes: Sequence[Outcome]) -> None:
    print(f"  unique surname family, at the likely threshold {DEFAULT_THRESHOLD} (goals: precision "
          f"≥ 0.95, recall ≥ 0.90, top-1 ≥ 0.90):")  # fmt: skip
    unique = [o for o in outcomes if o.unique]
    strangers = [o for o in unique if o.kind == NEW_CALLER]
    stranger_wrong = sum(1 for o in strangers if o.top is not None and o.top.score >= DEFAULT_THRESHOLD)
    families = [o for o in unique if o.truth is not None and o.kind in (*_SPOUSES, SECOND_PHONE, CHILD)]
    for label, kinds in (("spouse", _SPOUSES), ("second phone", (SECOND_PHONE,)), ("all", None)):
        rows = [o for o in families if kinds is None or o.kind in kinds]
        share = 1.0 if kinds is None else len(rows) / max(1, len(families))
        likely = [o for o in rows if o.top is not None and o.top.score >= DEFAULT_THRESHOLD]
        right = sum(1 for o in likely if o.right)
        wrong = len(likely) - right + stranger_wrong * share
        precision = right / (right + wrong) if right + wrong else 1.0
        print(
            f"    {label:<13} {len(rows):>5} cases: precision {precision:.3f} "
            f"(family callers alone {right / max(1, len(likely)):.3f})  "
            f"recall {right / max(1, len(rows)):.3f}  "
            f"top-1 {sum(1 for o in rows if o.right) / max(1, len(rows)):.3f}"
        )
    print(f"    (new callers of a unique surname: {len(strangers)}, "
          f"{stranger_wrong} got a suggestion at or above {DEFAULT_THRESHOLD})")  # fmt: skip


def _shared(outcomes: Sequence[Outcome], threshold: int) -> None:
    shared = [o for o in outcomes if not o.unique and o.truth is not None]
    signal = [o for o in shared if o.second_signal]
    top3 = sum(1 for o in signal if o.truth in [s.household for s in o.found[:3]])
    print(
        f"  shared surname with a second signal: {len(signal):>5} cases, the right family in the "
        f"top 3: {top3 / max(1, len(signal)):.3f} (goal ≥ 0.80)"
    )
    bare = [o for o in shared if not o.second_signal]
    shown = sum(1 for o in bare if o.top is not None and _says_count(o.top))
    above = sum(1 for o in bare if o.top is not None and o.top.score >= threshold)
    print(
        f"  shared surname, nothing else: {len(bare):>5} cases, shown with the count of families "
        f"{shown / max(1, len(bare)):.3f}, at or above the automatic threshold {threshold}: {above}"
    )


def _says_count(found: Suggestion) -> bool:
    return any(part in text for text in found.reasons for part in _COUNT_REASONS)


def _calibration(outcomes: Sequence[Outcome], threshold: int) -> None:
    measured = bands_of(outcomes_scored(outcomes))
    stored = {(b.low, b.high): b for b in BANDS}
    print("  calibration (best suggestion's score → share right; identity/calibration.py in brackets):")
    for band in measured:
        kept = stored.get((band.low, band.high))
        print(
            f"    {band.low:>3}-{band.high:<3} {band.cases:>6} questions, {band.right:>6} right: "
            f"{band.share:.3f}" + (f"  [{kept.share:.3f} of {kept.cases}]" if kept else "")
        )
    print(f"  automatic threshold for {AUTO_TARGET:.0%} right: {threshold} measured here")
    applied = [o for o in outcomes if o.top is not None and o.top.score >= threshold]
    right = sum(1 for o in applied if o.right)
    kinds = Counter(o.kind for o in applied)
    print(
        f"    {len(applied):,} best suggestions at or above it, {right / max(1, len(applied)):.3f} right "
        f"({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})"
    )
