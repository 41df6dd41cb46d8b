"""The FastAGI server: one thread per call, a bounded number of calls.

Threads rather than asyncio: pyst2 and SQLAlchemy's ORM are blocking, a call
spends minutes idle inside a Dial, and the count of calls in flight is bounded
(`max_calls`), so a thread per call is simple and cheap enough; the decision
itself runs on a small pool with a deadline (`callflow.Decider`). Session
threads are kept and reused (a pool of up to `max_calls`): starting a thread
is a fraction of a millisecond every caller would otherwise wait.

Failure policy: a peer outside the allow-list, or a call beyond `max_calls`, is
closed at once (Asterisk sees AGISTATUS=SUCCESS without CALLKEEPER_STATUS and
the dialplan goes to its queue); an environment block that does not end within
`env_timeout_seconds` frees the slot; no read deadline once commands flow (a
Dial lasts minutes).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from agi.callflow import CallFlow, CallReport, Result
from agi.errors import AgiError, CallerHungUp, ProtocolError
from agi.protocol import AgiChannel

log = logging.getLogger(__name__)

ReportSink = Callable[[CallReport], None]


def parse_listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"listen address must be HOST:PORT, not {text!r}")
    return host.strip("[]"), int(port)


class AgiServer:
    def __init__(
        self,
        flow: CallFlow,
        listen: tuple[str, int],
        *,
        max_calls: int = 256,
        env_timeout: float = 2.0,
        allow_peers: tuple[str, ...] = (),
        on_report: ReportSink | None = None,
        on_start: Callable[[], None] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self.flow = flow
        self.env_timeout = env_timeout
        self.allowed = [ipaddress.ip_network(p, strict=False) for p in allow_peers]
        self.on_report = on_report or (lambda report: None)
        self.on_start = on_start
        self.on_end = on_end
        self._slots = threading.BoundedSemaphore(max_calls)
        self._sessions = ThreadPoolExecutor(max_workers=max_calls, thread_name_prefix="agi-session")
        self._active = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._give_up = 0.0  # monotonic time after which a stopping server waits for nothing
        family = socket.AF_INET6 if ":" in listen[0] else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(listen)
        self._sock.listen(128)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]

    @property
    def active_calls(self) -> int:
        with self._lock:
            return self._active

    def serve_forever(self) -> None:
        """Accept calls until `stop()`; returns once the listener is closed.

        A stopping server keeps listening only while advise mode's calls it
        advised still have outcomes to report (`CallFlow.awaiting_outcomes`),
        within the grace time; new calls then get CALLKEEPER_STATUS=FAILED.
        """
        self._sock.settimeout(0.2)
        while not self._stopping.is_set() or self._awaiting_outcomes():
            try:
                conn, peer = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    break
                raise
            self._admit(conn, peer)
        with contextlib.suppress(OSError):
            self._sock.close()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no call is in progress; False if some still are after `timeout`."""
        deadline = time.monotonic() + timeout
        while self.active_calls and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.active_calls == 0

    def begin_stop(self, grace: float) -> None:
        """Take no new calls; those in progress get `grace` seconds (the signal handler's part)."""
        if not self._stopping.is_set():
            self._give_up = time.monotonic() + grace
            self.flow.stopping.set()
            self._stopping.set()

    def _awaiting_outcomes(self) -> bool:
        return self.flow.awaiting_outcomes() > 0 and time.monotonic() < self._give_up

    def stop(self, grace: float) -> int:
        """Stop accepting; wait up to `grace` seconds for calls in progress. Returns how many remain."""
        self.begin_stop(grace)
        deadline = time.monotonic() + grace
        while self._awaiting_outcomes() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.wait_idle(max(deadline - time.monotonic(), 0.0))
        remaining = self.active_calls + self.flow.awaiting_outcomes()
        self._sessions.shutdown(wait=False)
        return remaining

    def _admit(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        if self.allowed and not any(ipaddress.ip_address(peer[0]) in n for n in self.allowed):
            log.warning("refused FastAGI connection from %s: not in allow_peers", peer[0])
            self._close(conn)
            return
        if not self._slots.acquire(blocking=False):
            log.warning("refused a call: %d calls in flight already", self.active_calls)
            self.on_report(CallReport(result=Result.REJECTED))
            self._close(conn)
            return
        with self._lock:
            self._active += 1
        try:
            self._sessions.submit(self._session, conn)
        except RuntimeError:
            # Stopped (SIGTERM) between accept() and here: the signal handler
            # runs in this thread. Close it like a full server: Asterisk sees
            # no CALLKEEPER_STATUS and goes to its queue.
            with self._lock:
                self._active -= 1
            self._slots.release()
            self._close(conn)

    def _session(self, conn: socket.socket) -> None:
        report = CallReport()
        channel = AgiChannel.over_socket(conn)
        if self.on_start:
            self.on_start()
        try:
            conn.settimeout(self.env_timeout)
            channel.read_environment()
            conn.settimeout(None)
            self.flow.handle(channel, report)
        except CallerHungUp:
            report.result = Result.HANGUP
        except (TimeoutError, ProtocolError) as exc:
            log.warning("dropped a FastAGI session: %s", exc or "environment not received in time")
            report.result = Result.FAILED
        except AgiError as exc:
            log.warning("FastAGI session ended by Asterisk's reply: %s", exc)
            report.result = Result.FAILED
        except Exception:
            log.exception("FastAGI session failed")
            report.result = Result.FAILED
        finally:
            channel.close()
            self._close(conn)
            with self._lock:
                self._active -= 1
            self._slots.release()
            if self.on_end:
                self.on_end()
            self.on_report(report)

    @staticmethod
    def _close(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            conn.close()
