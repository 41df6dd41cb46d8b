"""The hand-written hard cases (tests/data/suggest_hard_cases.toml) against the goals of issue 20."""

from __future__ import annotations

import pytest

from bench.suggest_eval import Outcome, answer, hard_cases
from identity.calibration import AUTO_THRESHOLD
from identity.index import SuggestionIndex
from identity.matching import DEFAULT_THRESHOLD, SHOW_THRESHOLD


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    records, cases = hard_cases()
    return answer(SuggestionIndex.build(records), cases)


def test_hard_cases_cover_every_cut_of_the_issue(outcomes: list[Outcome]) -> None:
    assert sum(1 for o in outcomes if o.unique and o.truth) >= 15
    assert sum(1 for o in outcomes if not o.unique and o.truth and o.second_signal) >= 4
    assert sum(1 for o in outcomes if not o.unique and o.truth and not o.second_signal) >= 2
    assert sum(1 for o in outcomes if o.truth is None) >= 2


def test_unique_surname_family_is_found_first_and_likely(outcomes: list[Outcome]) -> None:
    missed = [
        o for o in outcomes if o.unique and o.truth and not (o.right and o.top.score >= DEFAULT_THRESHOLD)
    ]  # type: ignore[union-attr]
    assert missed == []


def test_shared_surname_with_a_second_signal_puts_the_family_in_the_top_3(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        if not o.unique and o.truth and o.second_signal:
            assert o.truth in [s.household for s in o.found[:3]], o


def test_shared_surname_alone_is_shown_with_the_count_and_never_applied(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        if not o.unique and o.truth and not o.second_signal:
            assert o.top is not None and SHOW_THRESHOLD <= o.top.score < AUTO_THRESHOLD, o
            assert any("families share this surname" in r for r in o.top.reasons), o


def test_new_callers_and_look_alikes_get_nothing_likely(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        if o.truth is None:
            assert o.top is None or o.top.score < DEFAULT_THRESHOLD, o
