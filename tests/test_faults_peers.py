"""Hostile or broken peers and a machine out of descriptors: the server keeps
routing, frees what a bad peer holds, and says so in one counted line."""

from __future__ import annotations

import io
import logging
import socket
import threading
import time
import warnings
from collections.abc import Callable

import pytest
from sqlalchemy import select

from agi import protocol, server
from agi.app import FrontEnd
from agi.fake.fakepbx import Answer, FakePbx, scripted
from router.logs import configure_logging
from router.storage.db import Database
from router.storage.models import Agent
from tests.agency import IVANOV_MOBILE
from tests.test_agi_robustness import _read_all

StartFront = Callable[..., FrontEnd]


def _env(front: FrontEnd, *, drop: tuple[str, ...] = (), uid: str | None = None) -> bytes:
    lines = FakePbx(*front.address).environment(IVANOV_MOBILE, args=["msk"], uid=uid)
    kept = [line for line in lines if not line.startswith(drop) or line == ""]
    return ("\n".join(kept) + "\n").encode()


def _routes_normally(front: FrontEnd, host: str = "127.0.0.1") -> None:
    record = FakePbx(host, front.address[1], scripted({}, Answer())).call(IVANOV_MOBILE, args=["msk"])
    assert record.status == "ANSWERED"


def _claimed(db_url: str) -> list[str]:
    db = Database(db_url)
    try:
        with db.reader() as session:
            return list(session.scalars(select(Agent.login).where(Agent.claimed_by.is_not(None))))
    finally:
        db.dispose()


def test_environment_dripped_byte_by_byte_is_cut_at_its_deadline(
    db_url: str, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front(max_calls=1, env_timeout_seconds=0.5)
    stop = threading.Event()
    with socket.create_connection(front.address) as drip:

        def dribble() -> None:
            for byte in b"agi_network: yes\nagi_request: agi://127.0.0.1/route\nagi_x: " + b"y" * 100:
                if stop.wait(0.1):
                    return
                try:
                    drip.send(bytes([byte]))
                except OSError:
                    return

        sender = threading.Thread(target=dribble, daemon=True)
        sender.start()
        try:
            assert _read_all(drip, limit=4) == b""
        finally:
            stop.set()
            sender.join(2)
    assert front.server.wait_idle(2)
    _routes_normally(front)


@pytest.mark.parametrize(
    "drop",
    [
        ("agi_",),  # a bare blank line
        ("agi_request", "agi_network_script"),
        ("agi_callerid",),
    ],
    ids=["no keys", "no request", "no caller"],
)
def test_an_environment_without_request_or_caller_is_refused(
    db_url: str, agency: dict[str, int], start_front: StartFront, drop: tuple[str, ...]
) -> None:
    front = start_front()
    with socket.create_connection(front.address) as peer:
        peer.sendall(_env(front, drop=drop))
        assert _read_all(peer) == b""
    assert front.server.wait_idle(2)
    assert _claimed(db_url) == []
    _routes_normally(front)


def test_a_peer_that_never_answers_a_command_releases_its_claims(
    db_url: str, agency: dict[str, int], start_front: StartFront, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(protocol, "COMMAND_REPLY_SECONDS", 0.5, raising=False)
    front = start_front(mode="advise")
    with socket.create_connection(front.address) as peer:
        peer.sendall(_env(front))
        peer.settimeout(5)
        assert peer.makefile("rb").readline().startswith((b"SET VARIABLE", b"EXEC MSet"))
        assert _claimed(db_url) != []
        # Asterisk would answer "200 result=1" at once; this peer says nothing.
        assert front.server.wait_idle(5)
    assert _claimed(db_url) == []


def test_an_ipv4_peer_on_a_dual_stack_listener_matches_an_ipv4_allow_entry(
    db_url: str, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front(listen="[::]:0", allow_peers=("127.0.0.0/8",))
    _routes_normally(front, host="127.0.0.1")


def test_refused_connections_are_counted_and_logged_rate_limited(
    db_url: str, agency: dict[str, int], start_front: StartFront, caplog: pytest.LogCaptureFixture
) -> None:
    front = start_front(allow_peers=("10.9.9.9",))
    with caplog.at_level(logging.WARNING, logger="agi.server"):
        for _ in range(40):
            with socket.create_connection(front.address) as peer:
                assert _read_all(peer) == b""
    assert front.metrics is not None
    refused = front.metrics.registry.get_sample_value("callkeeper_agi_refused_total", {"reason": "peer"})
    assert refused == 40
    lines = [r for r in caplog.records if "refused" in r.getMessage()]
    assert 1 <= len(lines) <= 2


def test_session_threads_end_after_a_burst(
    db_url: str, agency: dict[str, int], start_front: StartFront, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "SESSION_IDLE_SECONDS", 0.2, raising=False)
    front = start_front()
    pbx = FakePbx(*front.address, scripted({}, Answer(ring_seconds=0, talk_seconds=10)), time_scale=0.02)
    calls = [
        threading.Thread(target=pbx.call, args=(IVANOV_MOBILE,), kwargs={"args": ["msk"]}) for _ in range(12)
    ]
    for call in calls:
        call.start()
    for call in calls:
        call.join(20)

    def sessions() -> int:
        mine = f"agi-session-{front.address[1]}-"
        return sum(1 for t in threading.enumerate() if t.name.startswith(mine))

    give_up = time.monotonic() + 10
    while sessions() and time.monotonic() < give_up:
        time.sleep(0.05)
    assert sessions() == 0
    _routes_normally(front)
    assert sessions() == 1


def test_ops_endpoint_bounds_its_connections_and_closes_idle_ones(
    db_url: str, agency: dict[str, int], start_front: StartFront, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agi import ops_http

    monkeypatch.setattr(ops_http, "IDLE_SECONDS", 0.5, raising=False)
    front = start_front()
    assert front.ops is not None
    before = threading.active_count()
    idle = [socket.create_connection(front.ops.address) for _ in range(60)]
    try:
        time.sleep(0.3)
        assert threading.active_count() - before <= getattr(ops_http, "MAX_CONNECTIONS", 16) + 1
        for peer in idle:
            _read_all(peer)  # the server closes each: at once beyond the bound, else when idle
    finally:
        for peer in idle:
            peer.close()
    with socket.create_connection(front.ops.address) as probe:
        probe.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        assert _read_all(probe).startswith(b"HTTP/1.0 200")


def test_caller_supplied_values_are_escaped_in_the_log(
    db_url: str, agency: dict[str, int], start_front: StartFront
) -> None:
    out = io.StringIO()
    configure_logging("INFO", "text")
    root = logging.getLogger()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)
    try:
        front = start_front()
        forged = "1.2\r2026-12-05 WARNING callkeeper.calls: call uid=9 result=answered"
        with socket.create_connection(front.address) as peer:
            peer.sendall(_env(front, uid=forged))
            reader = peer.makefile("rb")
            peer.settimeout(5)
            while line := reader.readline():
                reply = b"200 result=0\n" if line.startswith(b"EXEC") else b"200 result=1\n"
                peer.sendall(reply)
        assert front.server.wait_idle(2)
    finally:
        logging.getLogger().handlers[:] = []
        logging.captureWarnings(False)
    text = out.getvalue()
    assert "\r" not in text
    calls = [line for line in text.splitlines() if "callkeeper.calls" in line]
    assert len(calls) == 1
    # The call id is the PBX's address and its unique id (evidence, item 6), escaped as one value.
    assert 'uid="127.0.0.1/1.2\\r2026-12-05 WARNING callkeeper.calls: call uid=9 result=answered"' in calls[0]


def test_every_log_record_is_one_line_tracebacks_and_warnings_included() -> None:
    out = io.StringIO()
    logging.captureWarnings(False)  # an earlier test's set-up may have left it on
    configure_logging("INFO", "text")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)
    try:
        try:
            raise RuntimeError("first\nsecond")
        except RuntimeError:
            logging.getLogger("agi.server").exception("session failed:\n%s", "two\nlines")
        # What warnings.warn calls once filters let a warning through.
        warnings.showwarning("a library warns", UserWarning, __file__, 1, line="the source\nline")
    finally:
        logging.getLogger().handlers[:] = []
        logging.captureWarnings(False)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert "Traceback" in lines[0] and "RuntimeError: first\\nsecond" in lines[0]
    assert "a library warns" in lines[1]
