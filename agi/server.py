"""The FastAGI server: one thread per call, a bounded number of calls.

Threads rather than asyncio: pyst2 and SQLAlchemy's ORM are blocking, a call
spends minutes idle inside a Dial, and the count of calls in flight is bounded
(`max_calls`), so a thread per call is simple and cheap enough; the decision
itself runs on a small pool with a deadline (`callflow.Decider`). The accept
thread gathers each connection's environment block itself (a selector, one
buffer per connection): only a block that is whole takes a call slot and a
session thread, so peers that connect and dawdle cost a descriptor, not a
slot. Session threads are kept for reuse while calls keep coming (starting a
thread is a fraction of a millisecond every caller would otherwise wait) and
end after `SESSION_IDLE_SECONDS` without work. They are daemon threads: at the
end of the stop grace the process exits whatever they are doing.

Failure policy: a peer outside the allow-list, or a call beyond `max_calls`, is
closed at once (Asterisk sees AGISTATUS=SUCCESS without CALLKEEPER_STATUS and
the dialplan goes to its queue), counted in callkeeper_agi_refused_total and
logged at most once per `REFUSED_LOG_SECONDS`; an environment block that is
not whole within `env_timeout_seconds` (one deadline for the block) is closed;
one that lacks the request or the caller is refused; out of descriptors, the
accept loop backs off and retries, and a call it cannot serve is closed (the
queue takes it); on stop, the calls queued on the listener and those still
sending their environment are answered CALLKEEPER_STATUS=FAILED, then the
listener closes.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import queue
import re
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agi import variables as var
from agi.callflow import CallFlow, CallReport, Result
from agi.errors import AgiError, CallerHungUp, ProtocolError
from agi.protocol import AgiChannel

log = logging.getLogger(__name__)

ReportSink = Callable[[CallReport], None]
RefusedSink = Callable[[str], None]

SESSION_IDLE_SECONDS = 60.0
# Connections that may be sending their environment at once, per call slot.
WAITING_PER_CALL = 4
MAX_ENV_BYTES = 65536
_BLOCK_END = re.compile(rb"(?:^|\n)\r?\n")
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


_Work = tuple[socket.socket, bytes, bytes]  # a connection, its environment block, what followed


@dataclass
class _Waiting:
    """A connection whose environment block is still arriving."""

    conn: socket.socket
    deadline: float
    buffer: bytearray = field(default_factory=bytearray)


class _SessionThreads:
    """Daemon threads running sessions, as many as calls in flight; one idle for SESSION_IDLE_SECONDS ends."""

    def __init__(self, work: Callable[[_Work], None], name: str) -> None:
        self._work = work
        self._name = name
        self._queue: queue.SimpleQueue[_Work] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0  # threads waiting for work and not yet promised a connection

    def submit(self, conn: _Work) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
                self._queue.put(conn)
                return
            self._threads += 1
            name = f"{self._name}-{self._threads}"
        threading.Thread(target=self._run, args=(conn,), name=name, daemon=True).start()

    def _run(self, conn: _Work) -> None:
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
        reuse_port: bool = False,
    ) -> None:
        """`reuse_port`: share the port with the node's other workers (SO_REUSEPORT), the
        kernel spreading connections among their listeners."""
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
        self._starting = 0  # sessions handed to a thread that has not begun them yet
        # Connections still sending their environment: a descriptor and a buffer each.
        self.max_waiting = WAITING_PER_CALL * max_calls
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        # Re-entrant: the signal handler that stops the server runs on the accept thread.
        self._listener_lock = threading.RLock()
        self._give_up = 0.0  # monotonic time after which a stopping server waits for nothing
        family = socket.AF_INET6 if ":" in listen[0] else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self._sock.bind(listen)
        self._sock.listen(128)
        self._sock.setblocking(False)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        self._sessions = _SessionThreads(self._session, f"agi-session-{self.address[1]}")
        self._spare: int | None = _spare_descriptor()

    @property
    def active_calls(self) -> int:
        with self._lock:
            return len(self._active) + self._starting

    def calls_in_progress(self) -> list[str]:
        """Unique ids of the calls in progress (for the log at the end of the stop grace)."""
        with self._lock:
            return [report.uid or "-" for report in self._active.values()]

    def serve_forever(self) -> None:
        """Accept calls until `stop()`; returns once the listener is closed.

        This thread also gathers each connection's environment block, without
        a thread or a call slot per connection: a peer dripping its block holds
        a descriptor and a buffer until its deadline, never a slot a real call
        needs. A block whole in time gets a slot and a session thread.

        A stopping server keeps listening only while advise mode's calls it
        advised still have outcomes to report (`CallFlow.awaiting_outcomes`),
        within the grace time; new calls then get CALLKEEPER_STATUS=FAILED.
        """
        selector = selectors.DefaultSelector()
        selector.register(self._sock, selectors.EVENT_READ, None)
        backoff = 0.0
        try:
            while not self._stopping.is_set() or self._awaiting_outcomes():
                waiting = [key.data for key in selector.get_map().values() if key.data is not None]
                timeout = ACCEPT_POLL_SECONDS
                if waiting:
                    timeout = max(0.0, min(timeout, min(w.deadline for w in waiting) - time.monotonic()))
                if backoff:
                    time.sleep(backoff)  # accept failed: give the system a moment
                for key, _events in selector.select(timeout):
                    if key.data is None:
                        backoff = self._accept_waiting(selector, backoff)
                    else:
                        self._gather(selector, key.data)
                self._expire(selector)
            for key in list(selector.get_map().values()):
                if key.data is not None:
                    selector.unregister(key.fileobj)
                    self.on_refused("stopping")
                    self._last_word(key.data.conn)
        finally:
            selector.close()
            self._close_listener()

    def _accept_waiting(self, selector: selectors.BaseSelector, backoff: float) -> float:
        """Accept every connection waiting; returns the back-off before the next try (0: none)."""
        while True:
            try:
                conn, peer = self._sock.accept()
            except BlockingIOError:
                return 0.0
            except OSError as exc:
                if self._stopping.is_set():
                    return 0.0
                if exc.errno in _OUT_OF_DESCRIPTORS:
                    if self._out_of_descriptors():
                        continue
                else:
                    log.warning("accept failed, retrying: %s", exc)
                return min(max(backoff * 2, BACKOFF_FIRST_SECONDS), BACKOFF_CAP_SECONDS)
            if self._stopping.is_set() and not self._awaiting_outcomes():
                self.on_refused("stopping")
                self._last_word(conn)
                continue
            if self.allowed and not any(peer_address(str(peer[0])) in n for n in self.allowed):
                self._refuse(conn, "peer")
                continue
            if len(selector.get_map()) > self.max_waiting:
                self._refuse(conn, "capacity")
                continue
            conn.setblocking(False)
            selector.register(conn, selectors.EVENT_READ, _Waiting(conn, time.monotonic() + self.env_timeout))

    def _gather(self, selector: selectors.BaseSelector, waiting: _Waiting) -> None:
        """Read what the peer sent; once its block is whole, hand it to a session."""
        try:
            data = waiting.conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            selector.unregister(waiting.conn)
            self._close(waiting.conn)
            return
        waiting.buffer += data
        end = _BLOCK_END.search(waiting.buffer)
        if end is None:
            if len(waiting.buffer) > MAX_ENV_BYTES:
                selector.unregister(waiting.conn)
                log.warning("dropped a FastAGI connection: environment longer than %d bytes", MAX_ENV_BYTES)
                self._close(waiting.conn)
            return
        selector.unregister(waiting.conn)
        waiting.conn.setblocking(True)
        block, rest = bytes(waiting.buffer[: end.end()]), bytes(waiting.buffer[end.end() :])
        if not self._slots.acquire(blocking=False):
            self.on_report(CallReport(result=Result.REJECTED))
            self._refuse(waiting.conn, "capacity")
            return
        with self._lock:
            self._starting += 1
        self._sessions.submit((waiting.conn, block, rest))

    def _expire(self, selector: selectors.BaseSelector) -> None:
        now = time.monotonic()
        for key in list(selector.get_map().values()):
            waiting = key.data
            if waiting is not None and waiting.deadline <= now:
                selector.unregister(waiting.conn)
                self._close(waiting.conn)
                self.on_refused("environment")
                self._warn_refused("environment")

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no call is in progress; False if some still are after `timeout`."""
        deadline = time.monotonic() + timeout
        while self.active_calls and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.active_calls == 0

    def begin_stop(self, grace: float) -> None:
        """Take no new calls; those in progress get `grace` seconds (the signal handler's part).

        Callable from a signal handler in the accepting thread: unless calls
        this node advised still owe their outcomes, the listener is closed
        there and then, so Asterisk's next connection is refused (and goes to
        its queue) rather than accepted by a server about to leave.
        """
        if not self._stopping.is_set():
            self._give_up = time.monotonic() + grace
            self.flow.stopping.set()
            self._stopping.set()
        if not self._awaiting_outcomes():
            self._close_listener()

    def _awaiting_outcomes(self) -> bool:
        return self.flow.awaiting_outcomes() > 0 and time.monotonic() < self._give_up

    def stop(self, grace: float) -> int:
        """Stop accepting; wait up to `grace` seconds for calls in progress. Returns how many remain."""
        self.begin_stop(grace)
        deadline = time.monotonic() + grace
        while self._awaiting_outcomes() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._close_listener()
        self.wait_idle(max(deadline - time.monotonic(), 0.0))
        return self.active_calls + self.flow.awaiting_outcomes()

    def _close_listener(self) -> None:
        """Close the listening socket, first answering the calls queued on it.

        Closing it would reset the connections the kernel accepted and this
        process had not yet taken: callers whose Asterisk already sent them
        on. Each gets the last word (FAILED) instead.
        """
        with self._listener_lock:
            while self._sock.fileno() != -1:
                try:
                    conn = self._sock.accept()[0]
                except OSError:
                    break
                self.on_refused("stopping")
                self._last_word(conn)
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

    def _last_word(self, conn: socket.socket) -> None:
        """A call accepted as the server stops: CALLKEEPER_STATUS=FAILED at once, off this thread."""

        def answer() -> None:
            # Asterisk reads commands once it has sent its environment: the
            # command may go first, and the environment is not waited for.
            try:
                conn.setblocking(True)
                conn.settimeout(LAST_WORD_SECONDS)
                conn.sendall(f'SET VARIABLE {var.STATUS} "{var.Status.FAILED}"\n'.encode())
                with contextlib.suppress(OSError):
                    while b"200 result=" not in conn.recv(65536):
                        pass
            except OSError as exc:
                log.debug("no last word for a call accepted while stopping: %s", exc)
            finally:
                self._close(conn)

        threading.Thread(target=answer, name="agi-last-word", daemon=True).start()

    def _session(self, work: tuple[socket.socket, bytes, bytes]) -> None:
        conn, block, rest = work
        report = CallReport()
        key = id(report)
        with self._lock:
            self._starting -= 1
            self._active[key] = report
        channel = AgiChannel.over_socket(conn)
        if self.on_start:
            self.on_start()
        try:
            channel.take_environment(block, rest)
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
