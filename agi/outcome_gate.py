"""The outcome script's gate: a forged or replayed outcome is refused, said once in a while, counted.

The rules are `router.routing.outcome_check`'s; this is where the call front
asks them and what it does with a refusal: nothing is written to the ledger,
the channel is answered as usual (a refused session's dialplan goes on as
it would have), the refusal is counted (`callkeeper_outcome_refused_total`
by reason) and logged at most once a minute per reason, with how many were
refused since, so a flood of forged sessions cannot flood the log.

When the database cannot be asked, the outcome is not refused: its record
fails the same way and is spooled, so a real call's evidence is never
thrown away because the database was away.
"""

from __future__ import annotations

import logging
import threading
import time

from router.routing.outcome_check import REASONS
from router.routing.service import Router

log = logging.getLogger(__name__)

LOG_EVERY_SECONDS = 60.0


class OutcomeGate:
    def __init__(self, router: Router, *, advise_mode: bool) -> None:
        self.router = router
        self.advise_mode = advise_mode
        self._lock = threading.Lock()
        self._last_logged: dict[str, float] = {}
        self._unlogged: dict[str, int] = dict.fromkeys(REASONS, 0)

    def refusal(
        self,
        call_uid: str,
        decision_id: int | None,
        seq: int,
        dialed_seconds: float,
        *,
        same_pbx_only: bool = False,
    ) -> str | None:
        """Why this outcome may not be written (a reason of `REASONS`), or None; logs a refusal."""
        if not self.advise_mode:
            reason: str | None = "dial_mode"
        elif decision_id is None:
            reason = "unknown_decision"
        else:
            try:
                reason = self.router.outcome_refusal(
                    decision_id, seq, call_uid, dialed_seconds, same_pbx_only=same_pbx_only
                )
            except Exception as exc:
                log.warning("outcome not checked, the database did not answer: %s", exc)
                return None
        if reason is not None:
            self._log(reason, call_uid, decision_id, seq)
        return reason

    def _log(self, reason: str, call_uid: str, decision_id: int | None, seq: int) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last_logged.get(reason)
            if last is not None and now - last < LOG_EVERY_SECONDS:
                self._unlogged[reason] += 1
                return
            self._last_logged[reason] = now
            since, self._unlogged[reason] = self._unlogged[reason], 0
        log.warning(
            "outcome refused (%s): call %s, decision %s, attempt %s%s",
            reason,
            call_uid or "-",
            decision_id,
            seq,
            f"; {since} more refused for this reason since the last such line" if since else "",
        )
