"""The installed entry points as Asterisk meets them: `callkeeper serve` stops
gracefully on SIGTERM, and `callkeeper-agi` routes a call over stdin/stdout."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from agi.fake.fakepbx import Answer, FakePbx, scripted
from tests.agency import DIAL, IVANOV_MOBILE

BIN = Path(sys.executable).parent


def serve_process(db_url: str, tmp_path: Path, port: int, **env: str) -> subprocess.Popen[bytes]:
    """A real `callkeeper serve` on 127.0.0.1:PORT with no metrics endpoint; `env` adds settings."""
    return subprocess.Popen(
        [
            str(BIN / "callkeeper"),
            "serve",
            "--db",
            db_url,
            "--listen",
            f"127.0.0.1:{port}",
            "--metrics",
            "off",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, **env},
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def test_sigterm_stops_accepting_and_lets_calls_in_progress_finish(
    db_url: str, agency: dict[str, int], tmp_path: Path
) -> None:
    port = free_port()
    proc = serve_process(db_url, tmp_path, port, CALLKEEPER_STOP_GRACE_SECONDS="20")
    try:
        wait_for_port(port, proc)
        # One simulated second is 50 ms: this call talks for 2 s of real time.
        pbx = FakePbx(
            "127.0.0.1", port, scripted({}, Answer(ring_seconds=0, talk_seconds=40)), time_scale=0.05
        )
        result: dict[str, str | None] = {}
        call = threading.Thread(
            target=lambda: result.update(status=pbx.call(IVANOV_MOBILE, args=["msk"]).status)
        )
        call.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        refused = FakePbx("127.0.0.1", port).call(IVANOV_MOBILE, args=["msk"])
        assert refused.agistatus == "FAILURE"  # no longer accepting: Asterisk goes to its queue
        call.join(10)
        assert result["status"] == "ANSWERED"
        assert proc.wait(10) == 0
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        assert "stopped cleanly" in stderr
        assert "Traceback" not in stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_classic_agi_routes_a_call_over_stdin_and_stdout(db_url: str, agency: dict[str, int]) -> None:
    server_end, asterisk_end = socket.socketpair()
    proc = subprocess.Popen(
        [str(BIN / "callkeeper-agi")],
        stdin=server_end,
        stdout=server_end,
        stderr=subprocess.PIPE,
        env={**os.environ, "CALLKEEPER_DB": db_url},
    )
    server_end.close()
    pbx = FakePbx("127.0.0.1", 0, scripted({}, Answer()))
    # A spawned AGI gets the FastAGI environment less the two agi_network keys.
    env = [
        line for line in pbx.environment(IVANOV_MOBILE, args=["msk"]) if not line.startswith("agi_network")
    ]
    record = pbx.talk(asterisk_end, env, caller=IVANOV_MOBILE)
    asterisk_end.close()
    assert proc.wait(20) == 0
    assert record.status == "ANSWERED"
    assert record.dials == [(DIAL["ivanova"], 20, "ANSWER")]
    assert b"Traceback" not in (proc.stderr.read() if proc.stderr else b"")
