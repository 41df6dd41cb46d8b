"""`callkeeper demo`: a day at a two-office travel agency, through the real server.

It builds a SQLite agency (2 offices, 12 managers, 2,000 families, a third with
the spouse's phone linked), starts the FastAGI server on a free loopback port,
and has the fake Asterisk, in a process of its own, place a working day of
calls on a simulated clock (`agi.fake.fakeday`): families calling from either
phone and from either office's line, new callers (some calling twice),
withheld numbers, up to `--concurrency` calls in progress at once. Managers
answer, are busy or do not pick up by chance. The server's clock is the
day's, so the ledger reads like that day. Then it prints what the agency's
owner wants to know, and says how to look further at the database it leaves.

The same `--seed` and `--day` give the same day: one call talks to the server
at a time, in the order of the day's events (see `agi.fake.fakeday`).
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import func, select, update

from agi.app import FrontEnd
from agi.demo import demo_report
from agi.demo.demo_data import (
    AGENTS,
    LOGIN_BEFORE,
    OFFICES,
    PAUSED,
    ZONE,
    Family,
    day_of_calls,
    families,
    opening,
    write_households_csv,
)
from agi.fake.fakeday import DayElsewhere, SharedClock
from agi.fake.fakepbx import AgentsSpec
from router.cli.context import Context
from router.config import Settings
from router.directory import household_csv, offices
from router.errors import ExitCode, InvalidInput
from router.storage.db import Database
from router.storage.models import Agent, Decision

DEFAULT_DB = "callkeeper-demo.db"
# A free manager picks up nine calls in ten; the rest are busy, unanswered or fail.
ANSWER_RATE = 0.9
# Talk time of an answered call, in seconds: 2,000 calls keep the eleven managers
# on duty busy about half of the day, more in the busy hours.
TALK_SECONDS = (15, 150)
LINES = 16
# One call decides at a time, so no decision waits behind another: a decision
# that still takes this long means the machine stalled, and the call fails open.
DECISION_DEADLINE_MS = 5000


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    text = "a day of calls at a demo agency, through the real server and a fake Asterisk"
    p = commands.add_parser("demo", help=text, description=text, parents=[common])
    p.add_argument("--calls", type=int, default=2000, help="calls to place (default 2000)")
    p.add_argument("--households", type=int, default=2000, help="families in the directory (default 2000)")
    p.add_argument(
        "--concurrency",
        type=int,
        default=LINES,
        help=f"the agency's lines: calls in progress at once at most; a caller who finds them all "
        f"taken waits for one (default {LINES})",
    )
    p.add_argument("--seed", type=int, default=7, help="random seed, for a repeatable day (default 7)")
    p.add_argument(
        "--day",
        type=_past_day,
        metavar="YYYY-MM-DD",
        help="the working day to simulate, before today (default yesterday)",
    )
    p.add_argument(
        "--file",
        default=DEFAULT_DB,
        metavar="FILE",
        help=f"the SQLite file to create, replaced if it exists (default {DEFAULT_DB})",
    )
    p.set_defaults(handler=run_demo)


def _past_day(text: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date (YYYY-MM-DD)") from None
    if day >= _today():
        raise argparse.ArgumentTypeError(f"{day} is not before today: the demo replays a past day")
    return day


def _today() -> date:
    return datetime.now(ZONE).date()


def run_demo(ctx: Context, args: argparse.Namespace) -> int:
    for name, value in (
        ("--calls", args.calls),
        ("--households", args.households),
        ("--concurrency", args.concurrency),
    ):
        if value < 1:
            raise InvalidInput(f"{name} must be at least 1")
    path = Path(args.file).resolve()
    with _one_ctrl_c():
        try:
            _run(args, path)
        except KeyboardInterrupt:
            print(_interrupted(path), file=sys.stderr, flush=True)
            return int(ExitCode.INTERRUPTED)
    return 0


@contextmanager
def _one_ctrl_c() -> Iterator[None]:
    """The first Ctrl-C stops the demo; the ones after it wait for the stop to finish.

    The stop (the fake's calls hang up, the server records them and closes)
    takes a second or two; cut short, it would leave agents claimed and a
    process behind.
    """

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupted(path: Path) -> str:
    if not path.exists():
        return "Stopped (Ctrl-C) before the agency was built."
    db = Database(f"sqlite:///{path}")
    try:
        with db.reader() as s:
            calls = s.scalar(select(func.count()).select_from(Decision)) or 0
    finally:
        db.dispose()
    return (
        f"Stopped (Ctrl-C): the server and the fake Asterisk are stopped; "
        f"{calls} calls are in the ledger of {path}."
    )


def _run(args: argparse.Namespace, path: Path) -> None:
    day = args.day or _today() - timedelta(days=1)
    rng = random.Random(args.seed)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    say(f"Building the demo agency in {path} ...")
    found = build_agency(url, args.households, rng, path.parent, day)
    calls = day_of_calls(args.calls, found, rng)
    agents = AgentsSpec("chance", seed=rng.randrange(1 << 30), talk_range=TALK_SECONDS, answer=ANSWER_RATE)
    clock = SharedClock(opening(day))
    front = FrontEnd(
        Settings(
            db=url,
            listen="127.0.0.1:0",
            metrics="off",
            spool_dir=str(path.parent / "callkeeper-demo-spool"),
            decision_deadline_ms=DECISION_DEADLINE_MS,
        )
    )
    front.flow.clock = day_clock(front, clock)
    front.start()
    try:
        say(
            f"FastAGI server on {front.address[0]}:{front.address[1]}; placing {args.calls} calls of "
            f"{day:%A %d %B %Y} from {opening(day):%H:%M} Moscow time, on {args.concurrency} lines ..."
        )
        started = time.perf_counter()
        with DayElsewhere(front.address, args.concurrency, agents, clock) as pbx:
            result = pbx.drive(calls, Progress())
        seconds = time.perf_counter() - started
    finally:
        front.stop(grace=5)
    demo_report.report(url, day, result, args.concurrency)
    bookings = path.parent / "callkeeper-demo-bookings.csv"
    demo_report.print_splits(url, bookings, rng, day)
    demo_report.measured(result, seconds)
    say(hints(path, bookings, url, day, found))


def day_clock(front: FrontEnd, clock: SharedClock) -> Callable[[], datetime]:
    """The call front's clock on the simulated day.

    The front keeps its calls' claims on their agents alive with a heartbeat
    on the real clock, every few seconds; on a day that runs hundreds of
    times faster, a claim could lapse between two beats while its manager
    still talks. So the clock beats it each time a call reads the time: the
    claims of calls in progress hold (until real now + 30 s, always after the
    simulated day) and end only when their call records how it ended.
    """

    def now() -> datetime:
        front.heartbeat()
        return clock.now()

    return now


def build_agency(url: str, households: int, rng: random.Random, folder: Path, day: date) -> list[Family]:
    db = Database(url)
    db.ensure_schema()
    found = families(households, rng)
    csv_path = folder / "callkeeper-demo-households.csv"
    write_households_csv(csv_path, found, rng, day)
    try:
        with db.unit_of_work() as s:
            for code, (name, line) in OFFICES.items():
                offices.add_office(s, code, name=name, lines=[line, code], region="RU")
            for i, (login, name, office) in enumerate(AGENTS):
                offices.add_agent(s, login, office=office, dial=f"PJSIP/{101 + i}", name=name)
            offices.set_agent_state(s, PAUSED, "paused")
            # Everyone logged in (and the supervisor paused one) before opening.
            s.execute(update(Agent).values(state_changed_at=opening(day) - LOGIN_BEFORE))
            household_csv.import_households(s, csv_path, region="RU", actor="demo")
    finally:
        db.dispose()
        csv_path.unlink()
    return found


def hints(path: Path, bookings: Path, url: str, day: date, found: list[Family]) -> str:
    """Commands to look further, each working as printed from where the demo ran."""
    program = _program()
    db = shlex.quote(str(path))
    opened = opening(day)
    covered = demo_report.a_covered_household(url)
    lines = [
        f"\nThe database is left in {path}. Look further with:",
        f"  {program} --db {db} ledger --since {opened.isoformat()} "
        f"--until {(opened + timedelta(minutes=30)).isoformat()}",
    ]
    if covered is not None:
        lines.append(f"  {program} --db {db} ledger --household {covered}")
    lines += [
        f"  {program} --db {db} route {found[0].mobile} --line spb",
        f"  {program} --db {db} household show {found[0].mobile}",
        f"  {program} --db {db} splits --bookings {shlex.quote(str(bookings))} --policy talk-time",
        "The console opens on the demo database with: make console",
    ]
    return "\n".join(lines)


def _program() -> str:
    """How to run this `callkeeper`: its name if PATH finds this one, else its full path."""
    running = Path(sys.argv[0]).resolve()
    on_path = shutil.which("callkeeper")
    if on_path and Path(on_path).resolve() == running:
        return "callkeeper"
    if running.name == "callkeeper" and os.access(running, os.X_OK):
        return shlex.quote(str(running))
    return shlex.quote(str(Path(sys.executable).parent / "callkeeper"))


class Progress:
    """A bar on a terminal; otherwise a line at each tenth of the calls."""

    def __init__(self) -> None:
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if sys.stderr.isatty():
            filled = done * 30 // total
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} calls")
            if done == total:
                sys.stderr.write("\n")
        elif done * 10 // total > self.shown:
            self.shown = done * 10 // total
            sys.stderr.write(f"{done}/{total} calls\n")
        sys.stderr.flush()


def say(text: str) -> None:
    print(text, flush=True)
