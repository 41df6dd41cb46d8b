"""What the demo prints after its day: the figures an agency's owner reads, from the ledger.

Everything here but `measured` is a function of the day's calls, so the same
seed and day print the same; `measured` says what this machine took, which
differs run to run and is printed apart, last.
"""

from __future__ import annotations

import csv
import random
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import and_, func, select

from agi.demo.demo_data import AGENTS, PAUSED, ZONE, opening
from agi.fake.fakeday import Day
from router.routing.plan import ANSWER, OWNER
from router.splits import split_report
from router.splits.shares import format_amount
from router.storage.db import Database
from router.storage.models import Agent, Attempt, Decision, Household

# A call's answer: its attempt with status ANSWER (a call has at most one).
_ANSWERED_ATTEMPT = and_(Attempt.decision_id == Decision.id, Attempt.status == ANSWER)
# Bookings are closed after the last call, the evening of the day.
_BOOKINGS_CLOSED = time(19, 30)


@dataclass(frozen=True)
class OwnerReach:
    """Calls from families with an owner, by what happened to the owner."""

    free_took_it: int = 0  # the owner was free, and answered
    free_missed: int = 0  # the owner was free but did not pick up; a colleague did
    away_covered: int = 0  # the owner was on another call or paused; a colleague covered
    queued: int = 0  # nobody answered: the dialplan's queue took the call

    @property
    def calls(self) -> int:
        return self.free_took_it + self.free_missed + self.away_covered + self.queued


def owner_reach(calls: list[tuple[str, int | None, int | None]]) -> OwnerReach:
    """From (route, owner id, id of who answered or None) of each call with an owner.

    The route says whether the owner was free when the call came: the plan
    starts with the owner only then (`router.routing.decision`).
    """
    counts: Counter[str] = Counter()
    for route, owner, answered in calls:
        if answered is None:
            counts["queued"] += 1
        elif answered == owner:
            counts["free_took_it"] += 1
        elif route == OWNER:
            counts["free_missed"] += 1
        else:
            counts["away_covered"] += 1
    return OwnerReach(**counts)


def report(url: str, day: date, result: Day, lines: int) -> None:
    records = [r.record for r in result.records]
    statuses = Counter(r.status or "no status" for r in records)
    routes = Counter(
        r.variables.get("CALLKEEPER_ROUTE", "failed" if r.status == "FAILED" else "-") for r in records
    )
    last = max((r.started for r in result.records), default=0.0)
    say(
        f"\nThe day: {len(records)} calls from {opening(day):%H:%M} to {_clock(day, last)} Moscow time; "
        f"busiest moment {result.busiest} calls at once on {lines} lines; "
        f"{result.waited} callers waited for a free line."
    )
    say("Calls by route:   " + ", ".join(f"{k} {v}" for k, v in routes.most_common()))
    say("Outcome:          " + ", ".join(f"{k} {v}" for k, v in statuses.most_common()))
    say(
        f"Fail-opens:       {statuses.get('FAILED', 0)} "
        "(CALLKEEPER_STATUS=FAILED: the dialplan's queue took them)"
    )
    db = Database(url)
    try:
        with db.reader() as s:
            reach = owner_reach(
                [
                    (route, owner, answered)
                    for route, owner, answered in s.execute(
                        select(Decision.route, Decision.owner_id, Attempt.agent_id)
                        .outerjoin(Attempt, _ANSWERED_ATTEMPT)
                        .where(Decision.owner_id.is_not(None))
                        .order_by(Decision.id)
                    )
                ]
            )
            created = s.execute(
                select(Agent.login, func.count())
                .join(Household, Household.owner_id == Agent.id)
                .where(Household.origin == "call")
                .group_by(Agent.login)
                .order_by(func.count().desc(), Agent.login)
            ).all()
    finally:
        db.dispose()
    print_owner_reach(reach)
    total = sum(n for _, n in created)
    say(
        f"New households created by a first answered call: {total}"
        + (" — " + ", ".join(f"{login} {n}" for login, n in created) if created else "")
    )


def print_owner_reach(reach: OwnerReach) -> None:
    if not reach.calls:
        return

    def line(n: int, what: str) -> None:
        say(f"  {n:>5} {f'({100 * n / reach.calls:.0f} %)':>6}  {what}")

    say(f"Calls from families who already have a manager: {reach.calls}")
    line(reach.free_took_it, "their manager was free and took the call")
    line(reach.free_missed, "their manager was free but did not pick up; a colleague took it")
    line(reach.away_covered, "their manager was on another call or paused; a colleague covered")
    line(reach.queued, "nobody could take it; the dialplan's queue did")
    free = reach.free_took_it + reach.free_missed
    if free:
        say(
            f"  So: when a family's manager is free, the call goes to them first, and they took "
            f"{100 * reach.free_took_it / free:.0f} % of those calls\n"
            f"  (a next-free-desk queue: about {100 / (len(AGENTS) - 1):.0f} %); when the manager is busy "
            f"or away ({PAUSED} is paused all day),\n"
            "  a colleague covers, and the split report below shares the booking between them."
        )


def print_splits(url: str, bookings: Path, rng: random.Random, day: date) -> None:
    """Bookings closed that evening by families that called, and how their profit splits."""
    closed = datetime.combine(day, _BOOKINGS_CLOSED, ZONE).astimezone(UTC).isoformat(timespec="seconds")
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
        f"\nSplit report, policy equal, {len(results)} bookings closed that evening ({bookings.name}); "
        f"{len(shared)} worked by more than one manager:"
    )
    for agent, minor in sorted(totals.items(), key=lambda item: (-item[1], item[0])):
        say(f"  {agent:<10} {format_amount(minor):>12} RUB")
    for result in shared[:2]:
        say(
            f"  e.g. booking {result.booking} (household {result.household}, "
            f"{format_amount(result.amount or 0)} RUB):"
        )
        for share in result.shares:
            calls = ", ".join(
                f"{_local(c.at):%H:%M} {c.talk_seconds:.0f}s"
                + (f" covering for {c.covering_for}" if c.covering_for else "")
                for c in share.evidence
            )
            say(
                f"    {share.agent:<10} {format_amount(share.amount):>10} ({share.percent}%) — calls: {calls}"
            )


def a_covered_household(url: str) -> int | None:
    """The first household of the day whose call a colleague took while its owner could not."""
    db = Database(url)
    try:
        with db.reader() as s:
            return s.scalar(
                select(Decision.household_id)
                .join(Attempt, _ANSWERED_ATTEMPT)
                .where(Attempt.covering_for_id.is_not(None))
                .order_by(Decision.id)
                .limit(1)
            )
    finally:
        db.dispose()


def measured(result: Day, seconds: float) -> None:
    """What this machine took: differs from run to run, unlike everything above."""
    records = [r.record for r in result.records]
    latencies = sorted(r.first_dial_ms for r in records if r.first_dial_ms is not None)
    say("\nMeasured on this machine (these differ from run to run):")
    rate = len(records) / seconds
    say(f"  {len(records)} calls in {seconds:.1f} s ({rate:.0f} calls/s), one decision at a time")
    if latencies:
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        say(
            f"  decision latency as Asterisk saw it (connect to first Dial): p50 "
            f"{statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms"
        )


def _local(at: datetime) -> datetime:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(ZONE)


def _clock(day: date, seconds: float) -> str:
    return f"{opening(day) + timedelta(seconds=seconds):%H:%M}"


def say(text: str) -> None:
    print(text, flush=True)
