"""The web process's shared suggestion index: a stale one answers while the next loads; a big one is frozen.

At a million households loading takes half a minute, which no lead or page
may wait for after the first; and the cyclic collector walking the index
stopped every request for a fraction of a second. On both backends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from router.directory import household_reads, households, suggestions
from router.storage.db import Database
from web.suggestion_index import SharedIndex


def _family(db: Database, number: str) -> int:
    with db.unit_of_work() as s:
        specs = [household_reads.NumberSpec(number)]
        return households.add_household(
            s, name="Петровы", members=["Петрова Анна"], numbers=specs, actor="t"
        ).id


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Whatever a test freezes is given back to the collector after it."""
    yield
    gc.unfreeze()


def test_a_stale_index_answers_while_the_next_loads_and_keeps_this_processs_changes(
    db: Database, monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    first = _family(db, "+79160000001")
    shared = SharedIndex(db)
    loaded = shared.current()
    assert first in loaded
    # The next load reads the database, then waits until this process has created a family it did not see.
    read, created = threading.Event(), threading.Event()
    real_load = suggestions.load_index

    def load_then_wait(*args: object, **kwargs: object) -> object:
        index = real_load(*args, **kwargs)  # type: ignore[arg-type]
        read.set()
        assert created.wait(30)
        return index

    monkeypatch.setattr(suggestions, "load_index", load_then_wait)
    shared.max_age = 0.0
    stale = shared.current()
    reloading = shared.reloading()
    assert stale is loaded and reloading is not None
    assert read.wait(30)
    second = _family(db, "+79160000002")
    with db.reader() as s:
        record = suggestions.household_record(s, second)
    assert record is not None
    shared.add(record)
    created.set()
    reloading.join(30)
    shared.max_age = 1e9
    fresh = shared.current()
    assert fresh is not loaded and shared.reloading() is None
    assert first in fresh and second in fresh


def test_a_big_index_is_kept_out_of_the_cyclic_collector(db: Database, unfrozen: None) -> None:
    _family(db, "+79160000003")
    gc.unfreeze()
    SharedIndex(db, freeze_from=2).current()
    assert gc.get_freeze_count() == 0
    SharedIndex(db, freeze_from=1).current()
    assert gc.get_freeze_count() > 0
