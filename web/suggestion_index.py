"""The web process's one suggestion index (the console's queue and the leads API), loaded when first
needed and again when it is old.

Loading reads every household (seconds for a million), so it is done once per
process, not per page; it is reloaded after `MAX_AGE_SECONDS`, so that
families changed by the call front or the CLI are seen within minutes. Only
the first load makes a reader wait: a stale index goes on answering while a
thread loads the next one (half a minute at a million households, which
a lead or a page must not wait for); the households this process changes
meanwhile are brought up to date in the new one before it replaces the old.

An index of `FREEZE_FROM` households or more is moved out of the cyclic
garbage collector's reach once loaded (`gc.freeze`): its millions of entries
are never garbage, and a full collection walking them stopped every request
of the process for 100-300 ms at a million households (the leads API's p99).
The previous load's objects are unfrozen first, so nothing of an old index
stays frozen. The
merge candidates among existing families (a pass over the whole index) are
computed once per load. The router's queries filter out what changed since
(a household merged away, a pair rejected), so a stale index never offers a
pair it should not. One lock: the index is not read while it is updated.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

from sqlalchemy.orm import Session

from identity.index import SuggestionIndex
from identity.matching import DEFAULT_THRESHOLD
from identity.records import HouseholdRecord, Pair, Query, Suggestion
from router.directory import suggestions
from router.storage.db import Database

log = logging.getLogger(__name__)

MAX_AGE_SECONDS = 300.0
FREEZE_FROM = 50_000


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
    def __init__(
        self, db: Database, max_age: float = MAX_AGE_SECONDS, freeze_from: int = FREEZE_FROM
    ) -> None:
        self.db = db
        self.max_age = max_age
        self.freeze_from = freeze_from
        self._lock = threading.Lock()
        self._index: SuggestionIndex | None = None
        self._pairs: list[Pair] | None = None
        self._loaded_at = 0.0
        # While a reload runs: the households this process changed since it began.
        self._changed: set[int] | None = None
        self._reloader: threading.Thread | None = None

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
            self._noted(household_ids)

    def add(self, record: HouseholdRecord) -> None:
        """A household this process just created, as the index holds it (`refresh` without the reads)."""
        with self._lock:
            if self._index is None:
                return
            self._index.add(record)
            self._noted((record.id,))

    def current(self) -> SuggestionIndex:
        """The loaded index, for readers outside this class (leads): its own lock guards each call."""
        with self._lock:
            return self._loaded()

    def reloading(self) -> threading.Thread | None:
        """The thread loading the next index, if one is (tests wait for it)."""
        return self._reloader

    def _noted(self, household_ids: tuple[int, ...]) -> None:
        self._pairs = None
        if self._changed is not None:
            self._changed.update(household_ids)

    def _loaded(self) -> SuggestionIndex:
        if self._index is None:
            with self.db.reader() as s:
                self._index = self._settled(suggestions.load_index(s, LockedIndex))
            self._pairs = None
            self._loaded_at = time.monotonic()
        elif time.monotonic() - self._loaded_at > self.max_age and self._reloader is None:
            self._changed = set()
            self._reloader = threading.Thread(target=self._reload, name="suggestion-index", daemon=True)
            self._reloader.start()
        return self._index

    def _reload(self) -> None:
        try:
            with self.db.reader() as s:
                fresh = suggestions.load_index(s, LockedIndex)
            with self._lock, self.db.reader() as s:
                for household_id in sorted(self._changed or ()):
                    suggestions.refresh(s, fresh, household_id)
                self._index = fresh  # the old one goes with its last reader
                self._pairs = None
                self._settled(fresh)
        except Exception:
            # The database may be down for a while: the loaded index goes on answering.
            log.exception("suggestion index: reloading failed, the loaded one stays")
        finally:
            with self._lock:
                self._loaded_at = time.monotonic()
                self._changed = None
                self._reloader = None

    def _settled(self, index: SuggestionIndex) -> SuggestionIndex:
        """`index`, out of the cyclic collector's reach when it is big (see the module's docstring)."""
        if len(index) >= self.freeze_from:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
        return index
