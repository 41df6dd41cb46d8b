"""What a broken or hostile peer does to the server: it must neither crash nor
hold a slot. Raw sockets speak the bytes the fake PBX would not."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from agi.app import FrontEnd
from agi.fake.fakepbx import Answer, FakePbx, scripted
from tests.agency import IVANOV_MOBILE

StartFront = Callable[..., FrontEnd]


def _env(front: FrontEnd, caller: str = IVANOV_MOBILE) -> bytes:
    lines = FakePbx(*front.address).environment(caller, args=["msk"])
    return ("\n".join(lines) + "\n").encode()


def _read_all(sock: socket.socket, limit: float = 5.0) -> bytes:
    sock.settimeout(limit)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        pytest.fail("the server kept the connection open")
    return b"".join(chunks)


def _routes_normally(front: FrontEnd) -> None:
    record = FakePbx(*front.address, scripted({}, Answer())).call(IVANOV_MOBILE, args=["msk"])
    assert record.status == "ANSWERED"


def test_environment_that_never_ends_frees_the_slot(
    db_url: str, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front(max_calls=1, env_timeout_seconds=0.3)
    with socket.create_connection(front.address) as stalled:
        stalled.sendall(b"agi_network: yes\nagi_request: agi://127.0.0.1/route\n")
        started = time.monotonic()
        assert _read_all(stalled) == b""
        assert time.monotonic() - started < 3
    assert front.server.wait_idle(2)
    _routes_normally(front)


def test_garbage_instead_of_environment_is_dropped(
    db_url: str, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    with socket.create_connection(front.address) as peer:
        peer.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_all(peer) == b""
    _routes_normally(front)


def test_overlong_line_is_dropped(db_url: str, agency: dict[str, int], start_front: StartFront) -> None:
    front = start_front()
    with socket.create_connection(front.address) as peer:
        peer.sendall(b"agi_network: " + b"y" * 100_000 + b"\n\n")
        assert _read_all(peer) == b""
    _routes_normally(front)


def test_non_utf8_bytes_in_environment_still_route(
    db_url: str, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    env = _env(front).replace(b"agi_calleridname: unknown", b"agi_calleridname: \xff\xfe\xc0 Ivan")
    with socket.create_connection(front.address) as peer:
        peer.sendall(env)
        peer.settimeout(5)
        first = peer.makefile("rb").readline()
    assert first.startswith(b"EXEC Dial")


def test_garbage_reply_ends_session_and_server_goes_on(
    db_url: str, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    with socket.create_connection(front.address) as peer:
        peer.sendall(_env(front))
        reader = peer.makefile("rb")
        peer.settimeout(5)
        assert reader.readline().startswith(b"EXEC Dial")
        peer.sendall(b"this is not AGI\n")
        assert _read_all(peer) == b""
    assert front.server.wait_idle(2)
    _routes_normally(front)


def test_half_close_after_environment_ends_session(
    db_url: str, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front()
    with socket.create_connection(front.address) as peer:
        peer.sendall(_env(front))
        peer.shutdown(socket.SHUT_WR)
        _read_all(peer)
    assert front.server.wait_idle(2)
    _routes_normally(front)


def test_calls_beyond_max_calls_are_closed_at_once(
    db_url: str, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front(max_calls=1, env_timeout_seconds=5)
    with socket.create_connection(front.address) as holder:
        holder.sendall(_env(front))  # a call in its Dial holds the one slot
        holder.settimeout(5)
        assert holder.makefile("rb").readline().startswith(b"EXEC Dial")
        with socket.create_connection(front.address) as extra:
            extra.sendall(_env(front))
            started = time.monotonic()
            assert _read_all(extra, limit=2) == b""
            assert time.monotonic() - started < 1
    assert front.server.wait_idle(6)
    _routes_normally(front)


def test_peer_outside_allow_list_is_refused(
    db_url: str, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front(allow_peers=("10.9.9.0/24",))
    record = FakePbx(*front.address, scripted({}, Answer())).call(IVANOV_MOBILE)
    assert record.status is None
    assert record.dials == []


def test_peer_inside_allow_list_is_served(
    db_url: str, agency: dict[str, int], start_front: StartFront
) -> None:
    front = start_front(allow_peers=("127.0.0.0/8",))
    _routes_normally(front)
