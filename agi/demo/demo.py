"""`callkeeper demo`: a day at a two-office travel agency, through the real server.

It builds a SQLite agency (2 offices, 12 managers, 2,000 families, a third with
the spouse's phone linked), starts the FastAGI server on a free loopback port,
and has the fake Asterisk place a day of calls at real concurrency: families
calling from either phone and from either office's line, new callers (some
calling twice), withheld numbers. Managers answer, are busy or do not pick up
by chance; talk time runs on a simulated clock. Then it prints what the
agency's owner wants to know, and leaves the database for `callkeeper ledger`,
`route` and `splits`.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, func, select

from agi.app import FrontEnd
from agi.demo.demo_data import AGENTS, OFFICES, PAUSED, Family, families, write_households_csv
from agi.fake.fakepbx import AgentsSpec, CallRecord, PbxElsewhere, PlannedCall
from router.directory import household_csv, offices
from router.splits import split_report
from router.cli.context import Context
from router.config import Settings
from router.storage.db import Database, utcnow
from router.errors import InvalidInput
from router.storage.models import Agent, Attempt, Decision, Household
from router.routing.plan import ANSWER
from router.splits.shares import format_amount

# A call's answer: its attempt with status ANSWER (a call has at most one).
_ANSWERED_ATTEMPT = and_(Attempt.decision_id == Decision.id, Attempt.status == ANSWER)

DEFAULT_DB = "callkeeper-demo.db"
# One simulated second of ring or talk time lasts this long in real time.
TIME_SCALE = 0.00005
# A free manager picks up nine calls in ten; the rest are busy, unanswered or fail.
ANSWER_RATE = 0.9


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    text = "a day of calls at a demo agency, through the real server and a fake Asterisk"
    p = commands.add_parser("demo", help=text, description=text, parents=[common])
    p.add_argument("--calls", type=int, default=2000, help="calls to place (default 2000)")
    p.add_argument("--households", type=int, default=2000, help="families in the directory (default 2000)")
    p.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="calls in flight at once (default 4: 2,000 calls of ~8 minutes over an 8-hour day keep "
        "about four managers talking at any moment)",
    )
    p.add_argument("--seed", type=int, default=7, help="random seed, for a repeatable day (default 7)")
    p.add_argument(
        "--file",
        default=DEFAULT_DB,
        metavar="FILE",
        help=f"the SQLite file to create, replaced if it exists (default {DEFAULT_DB})",
    )
    p.set_defaults(handler=run_demo)


def run_demo(ctx: Context, args: argparse.Namespace) -> int:
    for name, value in (
        ("--calls", args.calls),
        ("--households", args.households),
        ("--concurrency", args.concurrency),
    ):
        if value < 1:
            raise InvalidInput(f"{name} must be at least 1")
    rng = random.Random(args.seed)
    path = Path(args.file).resolve()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    say(f"Building the demo agency in {path} ...")
    found = build_agency(url, args.households, rng, path.parent)
    front = FrontEnd(
        Settings(
            db=url,
            listen="127.0.0.1:0",
            metrics="off",
            spool_dir=str(path.parent / "callkeeper-demo-spool"),
            decision_deadline_ms=1000,
        )
    ).start()
    say(
        f"FastAGI server on {front.address[0]}:{front.address[1]}; placing {args.calls} calls, "
        f"{args.concurrency} at a time ..."
    )
    try:
        records, seconds = place_calls(front, found, args.calls, args.concurrency, rng)
    finally:
        front.stop(grace=10)
    report(url, records, seconds, found)
    bookings = path.parent / "callkeeper-demo-bookings.csv"
    print_splits(url, bookings, rng)
    say(
        f"\nThe database is left in {path}. Look further with:\n"
        f"  callkeeper --db {path.name} ledger --since today --json | head\n"
        f"  callkeeper --db {path.name} route {found[0].mobile} --line spb\n"
        f"  callkeeper --db {path.name} household show {found[0].mobile}\n"
        f"  callkeeper --db {path.name} splits --bookings {bookings.name} --policy talk-time"
    )
    return 0


def build_agency(url: str, households: int, rng: random.Random, folder: Path) -> list[Family]:
    db = Database(url)
    db.ensure_schema()
    found = families(households, rng)
    csv_path = folder / "callkeeper-demo-households.csv"
    write_households_csv(csv_path, found, rng)
    with db.unit_of_work() as s:
        for code, (name, line) in OFFICES.items():
            offices.add_office(s, code, name=name, lines=[line, code], region="RU")
        for i, (login, name, office) in enumerate(AGENTS):
            offices.add_agent(s, login, office=office, dial=f"PJSIP/{101 + i}", name=name)
        offices.set_agent_state(s, PAUSED, "paused")
        household_csv.import_households(s, csv_path, region="RU", actor="demo")
    db.dispose()
    csv_path.unlink()
    return found


def place_calls(
    front: FrontEnd, found: list[Family], calls: int, concurrency: int, rng: random.Random
) -> tuple[list[CallRecord], float]:
    new_callers = [f"+7925{n}" for n in rng.sample(range(1_000_000, 10_000_000), max(calls // 4, 1))]
    plan = []
    for _ in range(calls):
        roll = rng.random()
        line = rng.choice([line for _, line in OFFICES.values()])
        if roll < 0.55:
            family = rng.choice(found)
            caller = family.spouse if family.spouse and rng.random() < 0.4 else family.mobile
        elif roll < 0.95:
            caller = rng.choice(new_callers)  # some new callers call twice or more
        else:
            caller = "anonymous"
        plan.append(PlannedCall(caller, dnid=line))
    agents = AgentsSpec("chance", seed=rng.randrange(1 << 30), talk_range=(30, 900), answer=ANSWER_RATE)
    records: list[CallRecord] = []
    started = time.perf_counter()
    # The fake Asterisk runs in a process of its own, as the real one does.
    with PbxElsewhere(front.address, concurrency, agents, time_scale=TIME_SCALE) as pbx:
        step = max(calls // 20, concurrency)
        for first in range(0, calls, step):
            records += pbx.drive(plan[first : first + step])
            progress(len(records), calls)
    return records, time.perf_counter() - started


def report(url: str, records: list[CallRecord], seconds: float, found: list[Family]) -> None:
    statuses = Counter(r.status or "no status" for r in records)
    routes = Counter(
        r.variables.get("CALLKEEPER_ROUTE", "failed" if r.status == "FAILED" else "-") for r in records
    )
    latencies = sorted(r.first_dial_ms for r in records if r.first_dial_ms is not None)
    say(f"\n{len(records)} calls in {seconds:.1f} s ({len(records) / seconds:.0f} calls/s)")
    say("Calls by route:   " + ", ".join(f"{k} {v}" for k, v in routes.most_common()))
    say("Outcome:          " + ", ".join(f"{k} {v}" for k, v in statuses.most_common()))
    say(
        f"Fail-opens:       {statuses.get('FAILED', 0)} "
        "(CALLKEEPER_STATUS=FAILED: the dialplan's queue took them)"
    )
    if latencies:
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        say(
            f"Decision latency as Asterisk saw it (connect to first Dial): p50 "
            f"{statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms"
        )
    db = Database(url)
    with db.reader() as s:
        known = s.execute(
            select(func.count(), func.sum(case((Attempt.agent_id == Decision.owner_id, 1), else_=0)))
            .select_from(Decision)
            .outerjoin(Attempt, _ANSWERED_ATTEMPT)
            .where(Decision.owner_id.is_not(None))
        ).one()
        known_calls, reached = known[0] or 0, known[1] or 0
        if known_calls:
            say(
                f"Known callers who reached their own manager: {reached} of {known_calls} "
                f"({100 * reached / known_calls:.0f} %; a next-free-desk queue would manage about "
                f"{100 / (len(AGENTS) - 1):.0f} %)"
            )
        created = s.execute(
            select(Agent.login, func.count())
            .join(Household, Household.owner_id == Agent.id)
            .where(Household.origin == "call")
            .group_by(Agent.login)
            .order_by(func.count().desc())
        ).all()
        total = sum(n for _, n in created)
        say(
            f"New households created by a first answered call: {total}"
            + (" — " + ", ".join(f"{login} {n}" for login, n in created) if created else "")
        )
    db.dispose()


def print_splits(url: str, bookings: Path, rng: random.Random) -> None:
    """Bookings closed today by families that called, and how their profit splits."""
    db = Database(url)
    try:
        with db.reader() as s:
            households = list(
                s.scalars(
                    select(Decision.household_id)
                    .join(Attempt, _ANSWERED_ATTEMPT)
                    .where(Decision.household_id.is_not(None))
                    .group_by(Decision.household_id)
                    .order_by(Decision.household_id)
                )
            )
            chosen = rng.sample(households, min(40, len(households)))
            closed = utcnow().isoformat(timespec="seconds")
            with bookings.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(split_report.COLUMNS)
                for n, household in enumerate(chosen, 1):
                    amount = f"{rng.randrange(20_000, 400_000)}.{rng.randrange(100):02d}"
                    writer.writerow([f"B-{n:04d}", household, amount, closed])
            results = split_report.report(
                s, split_report.read_bookings(bookings), policy="equal", region="RU"
            )
    finally:
        db.dispose()
    totals: Counter[str] = Counter()
    shared = [r for r in results if len(r.shares) > 1]
    for result in results:
        for share in result.shares:
            totals[share.agent] += share.amount
    say(
        f"\nSplit report, policy equal, {len(results)} bookings ({bookings.name}); "
        f"{len(shared)} worked by more than one manager:"
    )
    for agent, minor in totals.most_common():
        say(f"  {agent:<10} {format_amount(minor):>12} RUB")
    for result in shared[:2]:
        say(
            f"  e.g. booking {result.booking} (household {result.household}, "
            f"{format_amount(result.amount or 0)} RUB):"
        )
        for share in result.shares:
            calls = ", ".join(
                f"{c.at:%H:%M} {c.talk_seconds:.0f}s"
                + (f" covering for {c.covering_for}" if c.covering_for else "")
                for c in share.evidence
            )
            say(
                f"    {share.agent:<10} {format_amount(share.amount):>10} ({share.percent}%) — calls: {calls}"
            )


def progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        filled = done * 30 // total
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} calls")
        if done == total:
            sys.stderr.write("\n")
    elif done == total or done % max(total // 10, 1) == 0:
        sys.stderr.write(f"{done}/{total} calls\n")
    sys.stderr.flush()


def say(text: str) -> None:
    print(text, flush=True)
