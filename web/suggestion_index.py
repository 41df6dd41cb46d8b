"""The web process's one suggestion index (the console's queue and the leads API), loaded when first
needed and again when it is old.

Loading reads every household (seconds for a million), so it is done once per
process, not per page; it is reloaded after `MAX_AGE_SECONDS`, so that
families changed by the call front or the CLI are seen within minutes. The
merge candidates among existing families (a pass over the whole index) are
computed once per load. The router's queries filter out what changed since
(a household merged away, a pair rejected), so a stale index never offers a
pair it should not. One lock: the index is not read while it is updated.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy.orm import Session

from identity.index import SuggestionIndex
from identity.matching import DEFAULT_THRESHOLD
from identity.records import HouseholdRecord, Pair, Query, Suggestion
from router.directory import suggestions
from router.storage.db import Database

MAX_AGE_SECONDS = 300.0


class LockedIndex(SuggestionIndex):
    """The suggestion index, safe to read and change from several threads."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()

    def suggest(self, query: Query, limit: int = 5, min_score: int = DEFAULT_THRESHOLD) -> list[Suggestion]:
        with self._lock:
            return super().suggest(query, limit=limit, min_score=min_score)

    def add(self, record: HouseholdRecord) -> None:
        with self._lock:
            super().add(record)

    update = add

    def remove(self, household_id: int) -> None:
        with self._lock:
            super().remove(household_id)


class SharedIndex:
    def __init__(self, db: Database, max_age: float = MAX_AGE_SECONDS) -> None:
        self.db = db
        self.max_age = max_age
        self._lock = threading.Lock()
        self._index: SuggestionIndex | None = None
        self._pairs: list[Pair] | None = None
        self._loaded_at = 0.0

    def queue(self, session: Session, *, days: int) -> list[suggestions.Queued]:
        with self._lock:
            index = self._loaded()
            if self._pairs is None:
                self._pairs = suggestions.household_pairs(index)
            return suggestions.queue(session, index, self._pairs, days=days)

    def concerning(self, session: Session, household_id: int) -> list[suggestions.Queued]:
        with self._lock:
            return suggestions.concerning(session, self._loaded(), household_id)

    def refresh(self, session: Session, *household_ids: int) -> None:
        """Bring the households this process just changed up to date in the loaded index."""
        with self._lock:
            if self._index is None:
                return
            for household_id in household_ids:
                suggestions.refresh(session, self._index, household_id)
            self._pairs = None

    def add(self, record: HouseholdRecord) -> None:
        """A household this process just created, as the index holds it (`refresh` without the reads)."""
        with self._lock:
            if self._index is None:
                return
            self._index.add(record)
            self._pairs = None

    def current(self) -> SuggestionIndex:
        """The loaded index, for readers outside this class (leads): its own lock guards each call."""
        with self._lock:
            return self._loaded()

    def _loaded(self) -> SuggestionIndex:
        if self._index is None or time.monotonic() - self._loaded_at > self.max_age:
            with self.db.reader() as s:
                self._index = suggestions.load_index(s, LockedIndex)
            self._pairs = None
            self._loaded_at = time.monotonic()
        return self._index
