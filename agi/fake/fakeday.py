"""A day of calls on a simulated clock: the fake Asterisk as a discrete-event simulation.

Each call arrives at its moment of the day, rings and talks for simulated
seconds, and hangs up. Many calls are in progress at once (each an open
FastAGI session holding its manager, up to `lines` of them), but only one
talks to the server at any moment: the one whose next event (arriving, or
its Dial ending) is the earliest of the day. It runs until it waits in a
Dial or ends, and only then does the clock move on. So the server sees the
same calls in the same order, with the same managers busy, on every run with
the same plan: a day is repeatable, where calls racing each other in real
time are not.

The server's clock (`SharedClock`, shared memory between this process and
the server's) reads the simulated moment of the event in progress, so the
ledger carries the day's times, not the minute the demo ran.
"""

from __future__ import annotations

import heapq
import itertools
import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from agi.fake.fakepbx import Agents, AgentsSpec, Answer, CallRecord, FakePbx

# How long to wait for the fake's process between checks for Ctrl-C.
_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class DayCall:
    """A call of the day: it arrives `at` seconds after the day's start."""

    at: float
    caller: str
    dnid: str = "unknown"


@dataclass
class DayRecord:
    """One call as it went: when it got a line (seconds into the day), and what the dialplan saw."""

    started: float
    record: CallRecord


@dataclass
class Day:
    records: list[DayRecord]
    busiest: int  # most calls in progress at once
    waited: int  # calls that found every line taken and waited for one


class SharedClock:
    """Seconds into the simulated day, and calls over, in memory both processes see."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        context = multiprocessing.get_context("spawn")
        self._seconds: Any = context.RawValue("d", 0.0)
        self._done: Any = context.RawValue("i", 0)

    @property
    def calls_done(self) -> int:
        return int(self._done.value)

    def call_done(self) -> None:
        self._done.value += 1

    @property
    def seconds(self) -> float:
        return float(self._seconds.value)

    @seconds.setter
    def seconds(self, value: float) -> None:
        self._seconds.value = value

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)


class _Conductor:
    """Hands the turn to one call at a time, in the order of the day's events."""

    def __init__(self, address: tuple[str, int], agents: AgentsSpec, clock: SharedClock, lines: int) -> None:
        self.pbx = FakePbx(*address, _taking_a_second(agents.build()), pass_time=self.pass_time)
        self.clock, self.lines = clock, lines
        self._cond = threading.Condition()
        self._turn: int | None = None
        self._events: list[tuple[float, int, int]] = []  # (when, order, call index)
        self._order = itertools.count()
        self._mine = threading.local()
        self._now = 0.0

    def run(self, calls: Sequence[DayCall]) -> Day:
        arrivals = sorted(range(len(calls)), key=lambda i: (calls[i].at, i))
        started: dict[int, DayRecord] = {}
        waiting: list[int] = []  # callers who found every line taken, first come first
        threads: list[threading.Thread] = []
        in_progress = busiest = 0
        next_arrival = 0
        while next_arrival < len(arrivals) or self._events or waiting:
            arrival = arrivals[next_arrival] if next_arrival < len(arrivals) else None
            wake = self._events[0] if self._events else None
            if waiting and in_progress < self.lines:
                index = waiting.pop(0)  # a line came free: the first caller waiting gets it now
            elif arrival is not None and (wake is None or calls[arrival].at < wake[0]):
                next_arrival += 1
                self._now = calls[arrival].at
                if in_progress == self.lines:
                    waiting.append(arrival)
                    continue
                index = arrival
            elif wake is not None:
                self._now, _, index = heapq.heappop(self._events)
            self.clock.seconds = self._now
            if index not in started:
                started[index] = DayRecord(self._now, CallRecord())
                in_progress += 1
                busiest = max(busiest, in_progress)
                threads.append(self._start(index, calls[index], started[index]))
            if self._take_turn(index):  # the call ended
                in_progress -= 1
                self.clock.call_done()
        for thread in threads:
            thread.join()
        records = [started[i] for i in range(len(calls))]
        waited = sum(1 for i, r in enumerate(records) if r.started > calls[i].at)
        return Day(records, busiest, waited)

    def _start(self, index: int, call: DayCall, into: DayRecord) -> threading.Thread:
        # Asterisk's uniqueid is the epoch second the channel was created, and a sequence.
        uid = f"{int(self.clock.now().timestamp())}.{index + 1}"

        def place() -> None:
            self._mine.index = index
            self._wait_for_turn(index)
            try:
                into.record = self.pbx.call(call.caller, dnid=call.dnid, uid=uid)
            except OSError:
                into.record = CallRecord(agistatus="FAILURE")
            finally:
                with self._cond:
                    self._turn = -1 - index  # this call is over
                    self._cond.notify_all()

        thread = threading.Thread(target=place, name=f"day-call-{index + 1}", daemon=True)
        thread.start()
        return thread

    def _take_turn(self, index: int) -> bool:
        """Let call `index` run until it waits in a Dial (False) or ends (True)."""
        with self._cond:
            self._turn = index
            self._cond.notify_all()
            while self._turn == index:
                self._cond.wait()
            return self._turn == -1 - index

    def _wait_for_turn(self, index: int) -> None:
        with self._cond:
            while self._turn != index:
                self._cond.wait()

    def pass_time(self, seconds: float) -> None:
        """A Dial rings and talks for `seconds`: the other calls have their turns meanwhile."""
        if seconds <= 0:
            return
        index = self._mine.index
        with self._cond:
            heapq.heappush(self._events, (self._now + seconds, next(self._order), index))
            self._turn = None
            self._cond.notify_all()
        self._wait_for_turn(index)


def _taking_a_second(agents: Agents) -> Agents:
    """Every Dial takes at least a simulated second, as a busy signal does on a real line.

    A Dial that reports DIALEDTIME 0 has the call front time the ring on the
    real clock instead (`agi.callflow`), which would put a different few
    milliseconds in the ledger on every run.
    """

    def behave(dial: str, timeout: int) -> Answer:
        answer = agents(dial, timeout)
        return answer if answer.ring_seconds + answer.talk_seconds else replace(answer, ring_seconds=1)

    return behave


def drive_day(
    address: tuple[str, int], calls: Sequence[DayCall], lines: int, agents: AgentsSpec, clock: SharedClock
) -> Day:
    """Place the day's `calls` against the server at `address`, at most `lines` in progress at once."""
    return _Conductor(address, agents, clock, lines).run(calls)


_clock: SharedClock | None = None


def _attach(clock: SharedClock) -> None:
    global _clock
    _clock = clock


def _drive_here(address: tuple[str, int], calls: Sequence[DayCall], lines: int, agents: AgentsSpec) -> Day:
    assert _clock is not None
    return drive_day(address, calls, lines, agents, _clock)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class DayElsewhere:
    """`drive_day` in a process of its own, as the real Asterisk is.

    The process is born ignoring SIGINT (it inherits the disposition), so a
    Ctrl-C in the terminal reaches only the demo, which stops it with `close`.
    """

    def __init__(self, address: tuple[str, int], lines: int, agents: AgentsSpec, clock: SharedClock) -> None:
        self._args = (address, lines, agents)
        self._clock = clock
        with _sigint_ignored():
            self._pool = multiprocessing.get_context("spawn").Pool(1, initializer=_attach, initargs=(clock,))

    def drive(self, calls: Sequence[DayCall], progress: Callable[[int, int], None] | None = None) -> Day:
        """The day's calls; `progress(done, total)` is told how many are over as they end."""
        address, lines, agents = self._args
        pending = self._pool.apply_async(_drive_here, (address, list(calls), lines, agents))
        while not pending.ready():
            pending.wait(_POLL_SECONDS)
            if progress is not None:
                progress(self._clock.calls_done, len(calls))
        result: Day = pending.get()
        if progress is not None:
            progress(len(result.records), len(calls))
        return result

    def close(self) -> None:
        """Stop the fake at once (its calls hang up) and wait for its process to end."""
        self._pool.terminate()
        self._pool.join()

    def __enter__(self) -> DayElsewhere:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
