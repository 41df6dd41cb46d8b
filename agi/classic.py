"""`callkeeper-agi`: the same call flow as a classic AGI script (stdin/stdout).

For a box without the daemon: Asterisk spawns one Python process per call, so
each call pays interpreter start-up and a database connection (about 44 ms, and
over a second with 50 calls in flight, on the reference box; see the README).
Use `callkeeper serve` wherever you can.
"""

from __future__ import annotations

import logging
import sys

from agi import variables as var
from agi.callflow import CallFlow, CallReport, Decider
from agi.errors import AgiError
from agi.protocol import AgiChannel
from router import config
from router.logs import configure_logging
from router.routing.service import Router
from router.storage.db import Database

log = logging.getLogger(__name__)


def main() -> int:
    # stdout is the AGI channel: logs must go to stderr (Asterisk shows them on its console).
    with (
        open(sys.stdin.fileno(), encoding="utf-8", errors="replace", newline="\n", closefd=False) as reader,
        open(sys.stdout.fileno(), "w", encoding="utf-8", newline="\n", closefd=False) as writer,
    ):
        _run(AgiChannel(reader, writer))
    return 0


def _run(channel: AgiChannel) -> None:
    report = CallReport()
    try:
        settings = config.load()
        configure_logging(settings.log_level, settings.log_format)
        channel.read_environment()
        db = Database(settings.db, pool_size=1)
        router = Router(db, settings)
        decider = Decider(router, settings.decision_deadline_ms, workers=1)
        try:
            CallFlow(router, settings, decider).handle(channel, report)
        finally:
            decider.shutdown()
            db.dispose()
    except AgiError as exc:
        log.info("AGI session ended: %s", exc)
    except Exception:
        log.exception("callkeeper-agi failed; the dialplan goes on")
        try:
            channel.set(var.STATUS, var.Status.FAILED)
        except Exception:
            log.debug("could not set CALLKEEPER_STATUS", exc_info=True)


if __name__ == "__main__":
    sys.exit(main())
