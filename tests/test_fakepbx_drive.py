"""The fake Asterisk's driver, as the benchmarks use it: how it places calls over time."""

from __future__ import annotations

import socket
import threading
import time

from agi.fake.fakepbx import AgentsSpec, PlannedCall, drive

INFLIGHT = 4
RAMP = 0.6


def _accepting_server() -> tuple[socket.socket, list[float]]:
    """A listener that notes when each connection arrives and hangs up on it."""
    listener = socket.create_server(("127.0.0.1", 0))
    arrived: list[float] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            arrived.append(time.monotonic())
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    return listener, arrived


def test_ramp_spreads_the_first_calls_instead_of_one_wave() -> None:
    listener, arrived = _accepting_server()
    calls = [PlannedCall(f"+7916000000{n}", dnid="+74950000000") for n in range(INFLIGHT)]
    try:
        started = time.monotonic()
        records = drive(listener.getsockname()[:2], calls, INFLIGHT, AgentsSpec(), ramp_seconds=RAMP)
    finally:
        listener.close()
    assert len(records) == INFLIGHT
    assert len(arrived) == INFLIGHT
    # Each call waits its share of the ramp before connecting (noise only delays).
    for k, at in enumerate(sorted(arrived)):
        assert at - started >= k * RAMP / INFLIGHT
