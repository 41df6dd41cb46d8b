"""The FastAGI server: one thread per call, a bounded number of calls.

Threads rather than asyncio: pyst2 and SQLAlchemy's ORM are blocking, a call
spends minutes idle inside a Dial, and the count of calls in flight is bounded
(`max_calls`), so a thread per call is simple and cheap enough; the decision
itself runs on a small pool with a deadline (`callflow.Decider`). Session
threads are kept for reuse while calls keep coming (starting a thread is a
fraction of a millisecond every caller would otherwise wait) and end after
`SESSION_IDLE_SECONDS` without work, so a burst leaves no threads behind.
They are daemon threads: at the end of the stop grace the process exits
whatever they are doing.

Failure policy: a peer outside the allow-list, or a call beyond `max_calls`, is
closed at once (Asterisk sees AGISTATUS=SUCCESS without CALLKEEPER_STATUS and
the dialplan goes to its queue), counted in callkeeper_agi_refused_total and
logged at most once per `REFUSED_LOG_SECONDS`; an environment block that is
not whole within `env_timeout_seconds` (one deadline for the block, not per
read) or lacks the request or the caller frees the slot; out of descriptors,
the accept loop backs off and retries, and a call it cannot serve is closed
(the queue takes it); on stop, the listener closes first and a call accepted
in that instant is answered CALLKEEPER_STATUS=FAILED at once.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable

from agi import variables as var
from agi.callflow import CallFlow, CallReport, Result
from agi.errors import AgiError, CallerHungUp, ProtocolError
from agi.protocol import AgiChannel

log = logging.getLogger(__name__)

ReportSink = Callable[[CallReport], None]
RefusedSink = Callable[[str], None]

SESSION_IDLE_SECONDS = 60.0
REFUSED_LOG_SECONDS = 10.0
ACCEPT_POLL_SECONDS = 0.2
# Out of descriptors: wait this long before accepting again, doubling up to the cap.
BACKOFF_FIRST_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 1.0
# A call accepted as the server stops is told FAILED within this time or closed.
LAST_WORD_SECONDS = 1.0
# A vanished peer (no FIN, no RST) is found by TCP keepalive after about a minute.
KEEPALIVE = (
    (getattr(socket, "TCP_KEEPIDLE", None), 30),
    (getattr(socket, "TCP_KEEPINTVL", None), 10),
    (getattr(socket, "TCP_KEEPCNT", None), 3),
)
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def peer_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The peer as an address: an IPv4 peer on a dual-stack listener (::ffff:a.b.c.d) as IPv4."""
    address = ipaddress.ip_address(host.partition("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class RateLimitedWarning:
    """One warning line per `interval` for a flood of like events, with how many there were."""

    def __init__(self, logger: logging.Logger, interval: float) -> None:
        self._log = logger
        self._interval = interval
        self._lock = threading.Lock()
        self._last = -interval
        self._since: dict[str, int] = {}

    def __call__(self, reason: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._since[reason] = self._since.get(reason, 0) + 1
            if now - self._last < self._interval:
                return
            self._last, counts, self._since = now, self._since, {}
        text = ", ".join(f"{n} ({why})" for why, n in sorted(counts.items()))
        self._log.warning("refused FastAGI connections since the last such line: %s", text)


class _SessionThreads:
    """Daemon threads running sessions, as many as calls in flight; one idle for SESSION_IDLE_SECONDS ends."""

    def __init__(self, work: Callable[[socket.socket], None], name: str) -> None:
        self._work = work
        self._name = name
        self._queue: queue.SimpleQueue[socket.socket] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0  # threads waiting for work and not yet promised a connection

    def submit(self, conn: socket.socket) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
                self._queue.put(conn)
                return
            self._threads += 1
            name = f"{self._name}-{self._threads}"
        threading.Thread(target=self._run, args=(conn,), name=name, daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        while True:
            self._work(conn)
            with self._lock:
                self._idle += 1
            while True:
                try:
                    conn = self._queue.get(timeout=SESSION_IDLE_SECONDS)
                    break
                except queue.Empty:
                    with self._lock:
                        if self._queue.empty() and self._idle > 0:
                            self._idle -= 1
                            self._threads -= 1
                            return


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
        on_refused: RefusedSink | None = None,
    ) -> None:
        self.flow = flow
        self.env_timeout = env_timeout
        self.allowed = [ipaddress.ip_network(p, strict=False) for p in allow_peers]
        self.on_report = on_report or (lambda report: None)
        self.on_start = on_start
        self.on_end = on_end
        self.on_refused = on_refused or (lambda reason: None)
        self._warn_refused = RateLimitedWarning(log, REFUSED_LOG_SECONDS)
        self._slots = threading.BoundedSemaphore(max_calls)
        self._active: dict[int, CallReport] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener_lock = threading.Lock()
        family = socket.AF_INET6 if ":" in listen[0] else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(listen)
        self._sock.listen(128)
        self._sock.settimeout(ACCEPT_POLL_SECONDS)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        self._sessions = _SessionThreads(self._session, f"agi-session-{self.address[1]}")
        self._spare: int | None = _spare_descriptor()

    @property
    def active_calls(self) -> int:
        with self._lock:
            return len(self._active)

    def calls_in_progress(self) -> list[str]:
        """Unique ids of the calls in progress (for the log at the end of the stop grace)."""
        with self._lock:
            return [report.uid or "-" for report in self._active.values()]

    def serve_forever(self) -> None:
        """Accept calls until `stop()`; returns once the listener is closed."""
        backoff = BACKOFF_FIRST_SECONDS
        while not self._stopping.is_set():
            try:
                conn, peer = self._sock.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if self._stopping.is_set():
                    break
                if exc.errno not in _OUT_OF_DESCRIPTORS:
                    log.warning("accept failed, retrying: %s", exc)
                    time.sleep(backoff)
                    continue
                if not self._out_of_descriptors():
                    time.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_CAP_SECONDS)
                continue
            backoff = BACKOFF_FIRST_SECONDS
            if self._stopping.is_set():
                self._last_word(conn)
                break
            self._admit(conn, peer)
        self._close_listener()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no call is in progress; False if some still are after `timeout`."""
        deadline = time.monotonic() + timeout
        while self.active_calls and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.active_calls == 0

    def stop(self, grace: float) -> int:
        """Close the listener; wait up to `grace` seconds for calls in progress. Returns how many remain.

        Callable from a signal handler in the accepting thread: the listener is
        closed there and then, so Asterisk's next connection is refused (and
        goes to its queue) rather than accepted by a server about to leave.
        """
        self._stopping.set()
        self._close_listener()
        self.wait_idle(grace)
        return self.active_calls

    def _close_listener(self) -> None:
        with self._listener_lock:
            with contextlib.suppress(OSError):
                self._sock.close()
            if self._spare is not None:
                with contextlib.suppress(OSError):
                    os.close(self._spare)
                self._spare = None

    def _out_of_descriptors(self) -> bool:
        """EMFILE: free the spare descriptor, accept one waiting call and close it (the queue takes it).

        True when a call was turned away so: more may be waiting, and each
        should hear "no" at once rather than after a back-off.
        """
        with self._listener_lock:
            if self._spare is None or self._stopping.is_set():
                return False
            os.close(self._spare)
            self._spare = None
            try:
                conn: socket.socket | None = self._sock.accept()[0]
            except OSError:
                conn = None
            if conn is not None:
                self._refuse(conn, "descriptors")
            self._spare = _spare_descriptor()
            return conn is not None

    def _refuse(self, conn: socket.socket, reason: str) -> None:
        self.on_refused(reason)
        self._warn_refused(reason)
        self._close(conn)

    def _admit(self, conn: socket.socket, peer: tuple[str, ...]) -> None:
        if self.allowed and not any(peer_address(str(peer[0])) in n for n in self.allowed):
            self._refuse(conn, "peer")
            return
        if not self._slots.acquire(blocking=False):
            self.on_report(CallReport(result=Result.REJECTED))
            self._refuse(conn, "capacity")
            return
        self._sessions.submit(conn)

    def _last_word(self, conn: socket.socket) -> None:
        """A call accepted as the server stops: CALLKEEPER_STATUS=FAILED at once, off this thread."""
        self.on_refused("stopping")

        def answer() -> None:
            try:
                conn.settimeout(LAST_WORD_SECONDS)
                channel = AgiChannel.over_socket(conn)
                try:
                    channel.read_environment(LAST_WORD_SECONDS)
                    channel.set(var.STATUS, var.Status.FAILED)
                finally:
                    channel.close()
            except (AgiError, OSError, ValueError) as exc:
                log.debug("no last word for a call accepted while stopping: %s", exc)
            finally:
                self._close(conn)

        threading.Thread(target=answer, name="agi-last-word", daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        report = CallReport()
        key = id(report)
        with self._lock:
            self._active[key] = report
        channel = AgiChannel.over_socket(conn)
        if self.on_start:
            self.on_start()
        try:
            channel.read_environment(self.env_timeout)
            channel.check_environment()
            report.uid = channel.env.get("agi_uniqueid", "")
            _keepalive(conn)
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
                self._active.pop(key, None)
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


def _spare_descriptor() -> int | None:
    """A descriptor held in reserve, given up to accept (and close) a call when none is left."""
    try:
        return os.open(os.devnull, os.O_RDONLY)
    except OSError:
        return None


def _keepalive(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in KEEPALIVE:
            if option is not None:
                conn.setsockopt(socket.IPPROTO_TCP, option, value)
