"""`callkeeper serve` stopping under traffic: the listener closes first, a call
accepted in the race is answered at once, the stop grace is a deadline, and
the process exits 0."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from agi.fake.fakepbx import Answer, CallRecord, FakePbx, scripted
from tests.agency import IVANOV_MOBILE
from tests.test_serve_process import free_port, serve_process, wait_for_port


@pytest.mark.slow
def test_sigterm_under_traffic_answers_every_accepted_call_and_exits_0(
    db_url: str, agency: dict[str, int], tmp_path: Path
) -> None:
    port = free_port()
    proc = serve_process(db_url, tmp_path, port, CALLKEEPER_STOP_GRACE_SECONDS="5")
    records: list[CallRecord | str] = []
    lock = threading.Lock()
    try:
        wait_for_port(port, proc)
        pbx = FakePbx(
            "127.0.0.1", port, scripted({}, Answer(ring_seconds=0, talk_seconds=1)), time_scale=0.01
        )

        def one_call() -> None:
            try:
                record: CallRecord | str = pbx.call(IVANOV_MOBILE, args=["msk"], timeout=8)
            except OSError as exc:  # a socket timeout: the caller was held in silence
                record = f"held: {exc}"
            with lock:
                records.append(record)

        calls: list[threading.Thread] = []
        for n in range(80):  # 40 calls/s for 2 s, SIGTERM after 1 s
            if n == 40:
                proc.send_signal(signal.SIGTERM)
            calls.append(threading.Thread(target=one_call))
            calls[-1].start()
            time.sleep(0.025)
        for call in calls:
            call.join(15)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert "Traceback" not in stderr
    held = [r for r in records if isinstance(r, str)]
    silent = [
        r for r in records if isinstance(r, CallRecord) and r.agistatus == "SUCCESS" and r.status is None
    ]
    assert (held, silent) == ([], [])
    assert len(records) == 80


@pytest.mark.slow
def test_the_stop_grace_is_a_deadline_then_the_process_exits(
    db_url: str, agency: dict[str, int], tmp_path: Path
) -> None:
    port = free_port()
    proc = serve_process(db_url, tmp_path, port, CALLKEEPER_STOP_GRACE_SECONDS="1")
    try:
        wait_for_port(port, proc)
        # One simulated second is 50 ms: this call talks for 30 s of real time.
        pbx = FakePbx(
            "127.0.0.1", port, scripted({}, Answer(ring_seconds=0, talk_seconds=600)), time_scale=0.05
        )
        call = threading.Thread(
            target=lambda: pbx.call(IVANOV_MOBILE, args=["msk"], uid="1700000000.77"), daemon=True
        )
        call.start()
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(10)
        except subprocess.TimeoutExpired:
            pytest.fail("the process outlived its stop grace, waiting for a call")
        assert code == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert "1700000000.77" in stderr and "still in progress" in stderr


def _open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.slow
def test_out_of_descriptors_the_server_backs_off_fails_calls_open_and_keeps_serving(
    db_url: str, agency: dict[str, int], tmp_path: Path
) -> None:
    port = free_port()
    # One process: the descriptor limit below is set on the process that accepts.
    proc = serve_process(db_url, tmp_path, port, CALLKEEPER_ENV_TIMEOUT_SECONDS="60", CALLKEEPER_WORKERS="1")
    idle: list[socket.socket] = []
    try:
        wait_for_port(port, proc)
        # A warm server (modules loaded, pool open), then a descriptor limit a few above its use.
        assert FakePbx("127.0.0.1", port, scripted({}, Answer())).call(IVANOV_MOBILE, args=["msk"]).status
        limit = _open_descriptors(proc.pid) + 8
        resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (limit, limit))
        for _ in range(30):  # each holds a descriptor in the server while its environment is awaited
            idle.append(socket.create_connection(("127.0.0.1", port)))
        # The warm call's own socket or a pooled connection may close after
        # the flood and free a descriptor: top up until the server holds all.
        deadline = time.monotonic() + 30
        while True:
            time.sleep(0.5)
            if _open_descriptors(proc.pid) >= limit:
                break
            assert time.monotonic() < deadline, "the server never used all its descriptors"
            idle.append(socket.create_connection(("127.0.0.1", port)))
        beyond = FakePbx("127.0.0.1", port, scripted({}, Answer())).call(
            IVANOV_MOBILE, args=["msk"], timeout=10
        )
        assert beyond.status != "ANSWERED"  # failed open: the dialplan's queue takes it
        assert proc.poll() is None
        for peer in idle:
            peer.close()
        idle.clear()
        routed = None
        for _ in range(50):
            routed = FakePbx("127.0.0.1", port, scripted({}, Answer())).call(
                IVANOV_MOBILE, args=["msk"], timeout=10
            )
            if routed.status == "ANSWERED":
                break
            time.sleep(0.1)
        assert routed is not None and routed.status == "ANSWERED"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        for peer in idle:
            peer.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
