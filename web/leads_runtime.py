"""What the web process keeps for leads: the per-token rate and the webhook thread.

The suggestion index leads are matched against is the console's one
(`web.suggestion_index.SharedIndex`), kept current by `refresh` whenever this
process changes a household (a confirmed or rejected match, the console's
household actions); a lead's new family is added by `add_family` from the
lead's own values, without reading it back. The webhook thread
sends the deliveries that are due every `lead_webhook_every_seconds` and is
stopped, between two rounds, when the server stops.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable

from identity.index import SuggestionIndex
from identity.records import HouseholdRecord
from router.config import Settings, webhook_backoff
from router.leads import webhooks
from router.storage.db import Database
from web.suggestion_index import SharedIndex

log = logging.getLogger(__name__)


class TokenBuckets:
    """A token bucket per source: `rate` a second on average, `burst` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, source: str, now: float | None = None) -> int:
        """0 if the request may go, else the whole seconds until it may (for Retry-After)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, then = self._buckets.get(source, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens >= 1.0:
                self._buckets[source] = (tokens - 1.0, now)
                return 0
            self._buckets[source] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.rate))


class LeadsRuntime:
    def __init__(self, settings: Settings, db: Database, shared: SharedIndex) -> None:
        self.settings = settings
        self.db = db
        self.shared = shared
        self.buckets = TokenBuckets(settings.lead_api_rate_per_second, settings.lead_api_burst)
        self._backoff = webhook_backoff(settings)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def index(self) -> SuggestionIndex:
        """The process's one suggestion index, loaded on first use."""
        return self.shared.current()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._deliver_forever, name="webhooks", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def refresh(self, household_ids: Iterable[int | None]) -> None:
        """Bring these households of the index up to date after this process changed them."""
        wanted = {h for h in household_ids if h is not None}
        if wanted:
            with self.db.reader() as s:
                self.shared.refresh(s, *wanted)

    def add_family(self, record: HouseholdRecord) -> None:
        """A family this process just created, added to the index as it is (no read of the database)."""
        self.shared.add(record)

    def deliver_once(self) -> int:
        with self.db.unit_of_work() as s:
            return webhooks.deliver_due(s, backoff=self._backoff)

    def _deliver_forever(self) -> None:
        while not self._stop.wait(self.settings.lead_webhook_every_seconds):
            try:
                self.deliver_once()
            except Exception:
                # The database may be down for a while: the deliveries wait in it, the next round tries again.
                log.exception("webhook deliveries: this round failed, the next one tries again")
