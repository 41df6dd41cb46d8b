"""Today's counts of the agents board, shared by every console viewer for `MAX_AGE_SECONDS`.

Counting today's calls reads every decision and attempt of the day (hundreds
of milliseconds on a busy day); each open board asks every few seconds. So
the counts are read at most once per `MAX_AGE_SECONDS` for all viewers, while
the agents' states (a pause, a call) are read live on every refresh. Nothing
is written on the call path for the board: routing's latency stays as it is.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, tzinfo

from sqlalchemy.orm import Session

from router.routing import agent_board

MAX_AGE_SECONDS = 2.0


class SharedCounts:
    def __init__(self, max_age: float = MAX_AGE_SECONDS) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._counts: agent_board.DayCounts | None = None
        self._read_at = 0.0

    def board(self, session: Session, *, now: datetime, zone: tzinfo) -> list[agent_board.AgentOnBoard]:
        with self._lock:
            fresh = self._counts is not None and time.monotonic() - self._read_at <= self.max_age
            if not fresh or not self._counts.start <= now < self._counts.end:  # type: ignore[union-attr]
                self._counts = agent_board.day_counts(session, now=now, zone=zone)
                self._read_at = time.monotonic()
            counts = self._counts
        return agent_board.board(session, now=now, zone=zone, counts=counts)
