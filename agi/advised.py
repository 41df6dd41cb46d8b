"""Advised calls whose last outcome has not come back: what keeps a stopping server listening.

In advise mode the dialplan reports each attempt in its own outcome session
after the route session ended, so a server told to stop keeps listening
(within its grace) until the calls it advised have reported. In a node of
several workers an outcome session may reach any worker: the table is then
shared (`SharedAdvisedCalls`, a small file every worker maps), so the worker
that records a call's last outcome crosses it off for all, and no worker
closes its listener while an outcome is still owed to the node.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import struct
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

# (decision id, monotonic time after which it is no longer waited for); id 0: a free slot.
_ENTRY = struct.Struct("qd")
SLOTS = 4096


class AdvisedCalls:
    """One process's table."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[int, float] = {}

    def add(self, decision_id: int, until: float) -> None:
        with self._lock:
            self._until[decision_id] = until

    def discard(self, decision_id: int) -> None:
        with self._lock:
            self._until.pop(decision_id, None)

    def count(self) -> int:
        now = time.monotonic()
        with self._lock:
            for decision_id in [d for d, until in self._until.items() if until < now]:
                del self._until[decision_id]
            return len(self._until)


class SharedAdvisedCalls(AdvisedCalls):
    """The node's table, in a file the parent creates and every worker maps.

    Times are `time.monotonic()`, one clock for every process of the machine.
    A full table forgets the new call (logged): its outcome is still
    accepted by any worker listening, only a stopping node may not wait for it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self._fd = os.open(path, os.O_RDWR)
        self._map = mmap.mmap(self._fd, SLOTS * _ENTRY.size)

    @staticmethod
    def create(path: str | os.PathLike[str]) -> None:
        Path(path).write_bytes(bytes(SLOTS * _ENTRY.size))

    def add(self, decision_id: int, until: float) -> None:
        with self._locked():
            now = time.monotonic()
            for slot in range(SLOTS):
                held, held_until = _ENTRY.unpack_from(self._map, slot * _ENTRY.size)
                if held == 0 or held == decision_id or held_until < now:
                    _ENTRY.pack_into(self._map, slot * _ENTRY.size, decision_id, until)
                    return
        log.warning("advised-calls table full: a stopping node will not wait for decision %d", decision_id)

    def discard(self, decision_id: int) -> None:
        with self._locked():
            for slot, (held, _until) in enumerate(_ENTRY.iter_unpack(self._map)):
                if held == decision_id:
                    _ENTRY.pack_into(self._map, slot * _ENTRY.size, 0, 0.0)

    def count(self) -> int:
        now = time.monotonic()
        with self._locked():
            return sum(1 for held, until in _ENTRY.iter_unpack(self._map) if held != 0 and until >= now)

    def _locked(self) -> _FileLock:
        return _FileLock(self._fd, self._lock)


class _FileLock:
    """This process's threads, then the other processes: one at a time on the table."""

    def __init__(self, fd: int, lock: threading.Lock) -> None:
        self._fd = fd
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._lock.release()
