"""The call front assembled: database, router, decider, call flow and server.

`serve` runs one in the foreground; tests and the demo start one on a free
loopback port in a thread.
"""

from __future__ import annotations

import logging
import threading

from agi.callflow import CallFlow, CallReport, Decider
from agi.server import AgiServer, ReportSink, parse_listen
from router.config import Settings
from router.db import Database
from router.service import Router

log = logging.getLogger(__name__)


class FrontEnd:
    def __init__(self, settings: Settings, *, on_report: ReportSink | None = None) -> None:
        self.settings = settings
        self.db = Database(settings.db)
        self.db.ensure_schema()
        self.router = Router(self.db, settings)
        self.decider = Decider(self.router, settings.decision_deadline_ms)
        self.flow = CallFlow(self.router, settings, self.decider)
        self.reports: list[CallReport] = []
        self.server = AgiServer(
            self.flow,
            parse_listen(settings.listen),
            max_calls=settings.max_calls,
            env_timeout=settings.env_timeout_seconds,
            allow_peers=settings.allow_peers,
            on_report=on_report,
        )
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address

    def start(self) -> FrontEnd:
        """Serve in a background thread (tests, demo)."""
        self._thread = threading.Thread(target=self.server.serve_forever, name="agi-accept", daemon=True)
        self._thread.start()
        return self

    def stop(self, grace: float | None = None) -> int:
        """Stop accepting, let calls finish up to `grace` seconds; returns calls cut short."""
        remaining = self.server.stop(self.settings.stop_grace_seconds if grace is None else grace)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.decider.shutdown()
        self.db.dispose()
        return remaining
