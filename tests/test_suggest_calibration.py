"""The calibration table (identity/calibration.py) and the automatic threshold taken from it."""

from __future__ import annotations

import pytest

from bench.suggest_eval import answer, outcomes_scored
from bench.synthetic_families import SyntheticDirectory
from identity.calibration import (
    AUTO_TARGET,
    AUTO_THRESHOLD,
    BANDS,
    MIN_BAND_CASES,
    Band,
    bands_of,
    confidence,
    threshold_of,
)
from identity.index import SuggestionIndex
from router import config


def test_bands_of_counts_each_score_in_its_band() -> None:
    scored = [(0, False), (4, True), (60, True), (64, False), (100, True), (97, True)]
    assert bands_of(scored) == [Band(0, 4, 2, 1), Band(60, 64, 2, 1), Band(95, 100, 2, 2)]


def test_threshold_is_the_lowest_band_from_which_98_percent_are_right() -> None:
    bands = [Band(95, 100, 100, 100), Band(80, 84, 100, 97), Band(70, 74, 100, 50), Band(40, 44, 10, 10)]
    assert threshold_of(bands) == 80
    assert threshold_of([Band(95, 100, 100, 90)]) == 101  # nothing is ever applied by itself
    assert threshold_of([Band(95, 100, MIN_BAND_CASES - 1, MIN_BAND_CASES - 1)]) == 101


def test_stored_table_gives_the_automatic_threshold() -> None:
    above = [b for b in BANDS if b.low >= AUTO_THRESHOLD]
    assert sum(b.right for b in above) >= AUTO_TARGET * sum(b.cases for b in above) > 0
    just_below = max((b for b in BANDS if b.low < AUTO_THRESHOLD), key=lambda b: b.low)
    with_it = [*above, just_below]
    assert sum(b.right for b in with_it) < AUTO_TARGET * sum(b.cases for b in with_it)


def test_stored_table_is_one_band_per_five_points_with_enough_questions() -> None:
    assert [b.high - b.low for b in BANDS[:-1]] == [4] * (len(BANDS) - 1)
    assert BANDS[-1].high == 100
    assert sum(b.cases for b in BANDS) >= 5_000


def test_confidence_is_the_share_right_in_the_score_band() -> None:
    for band in BANDS:
        expected = round(band.share, 3) if band.cases >= MIN_BAND_CASES else None
        assert confidence(band.low) == confidence(band.high) == expected


def test_automatic_threshold_setting_defaults_to_the_table() -> None:
    assert config.load(environ={}).suggest_auto_threshold == AUTO_THRESHOLD
    assert config.load(environ={"CALLKEEPER_SUGGEST_AUTO_THRESHOLD": "101"}).suggest_auto_threshold == 101


@pytest.mark.slow
def test_calibration_holds_on_another_labelled_directory() -> None:
    """A directory of another seed and size: what the table says is applied automatically is
    still right about 98 % of the time, and each well-filled band from the threshold up is
    near the table's. (Below it the shares move with the directory's size: in a small one
    more surnames are unique, and more strangers share one with a single family.)"""
    directory = SyntheticDirectory(40_000, seed=11, case_every=10)
    index = SuggestionIndex.build(directory.records())
    scored = outcomes_scored(answer(index, directory.cases))
    applied = [right for score, right in scored if score >= AUTO_THRESHOLD]
    assert len(applied) > 500
    assert sum(applied) / len(applied) >= AUTO_TARGET - 0.02
    stored = {b.low: b for b in BANDS}
    for band in bands_of(scored):
        kept = stored.get(band.low)
        if band.low >= AUTO_THRESHOLD and band.cases >= 100 and kept is not None:
            assert abs(band.share - kept.share) <= 0.05, (band, kept)
