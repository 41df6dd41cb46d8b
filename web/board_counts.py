"""Today's counts of the agents board, shared by every console viewer and recounted off the request path.

Counting today's calls reads every decision and attempt of the day (hundreds
of milliseconds on a busy day); each open board asks every few seconds. So
the counts are read at most once per `MAX_AGE_SECONDS` for all viewers, and
not by a viewer: once they are older than that, the view that notices starts
a recount in a thread of its own and is shown the last counts, as every view
is until the recount lands. Only the day's first view (or the first after
midnight, in the agency's zone) counts while it waits. The agents' states (a
pause, a call) are read live on every refresh. Nothing is written on the call
path for the board: routing's latency stays as it is.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, tzinfo

from sqlalchemy.orm import Session

from router.routing import agent_board
from router.storage.db import Database, utcnow

log = logging.getLogger(__name__)

MAX_AGE_SECONDS = 2.0


class SharedCounts:
    def __init__(self, db: Database, max_age: float = MAX_AGE_SECONDS) -> None:
        self.db = db
        self.max_age = max_age
        self._lock = threading.Lock()
        self._counts: agent_board.DayCounts | None = None
        self._read_at = 0.0
        self._recount: threading.Thread | None = None

    def board(self, session: Session, *, now: datetime, zone: tzinfo) -> list[agent_board.AgentOnBoard]:
        with self._lock:
            counts = self._counts
            if counts is None or not counts.start <= now < counts.end:
                counts = self._counts = agent_board.day_counts(session, now=now, zone=zone)
                self._read_at = time.monotonic()
            elif time.monotonic() - self._read_at > self.max_age and self._recount is None:
                self._recount = threading.Thread(
                    target=self._count_again, args=(zone,), name="board-counts", daemon=True
                )
                self._recount.start()
        return agent_board.board(session, now=now, zone=zone, counts=counts)

    def wait_for_recount(self, timeout: float) -> None:
        """Until the recount in progress (if any) has landed."""
        recount = self._recount
        if recount is not None:
            recount.join(timeout)

    def _count_again(self, zone: tzinfo) -> None:
        try:
            with self.db.reader() as session:
                counts = agent_board.day_counts(session, now=utcnow(), zone=zone)
        except Exception as exc:  # the board keeps its last counts; the next view tries again
            log.warning("the agents board could not recount today's calls: %s", exc)
            counts = None
        with self._lock:
            if counts is not None and (self._counts is None or counts.start >= self._counts.start):
                self._counts = counts
            self._read_at = time.monotonic()
            self._recount = None
