"""Routing commands: route (explain a decision), ledger, splits and split overrides."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from router.cli.context import Context, household_option, print_json, print_table, time_window
from router.errors import ExitCode, InvalidInput
from router.routing import ledger
from router.routing.plan import PlannedAttempt, joined_dial
from router.routing.service import Router
from router.splits import bookings, split_report
from router.splits.shares import POLICIES, parse_override

Sub = Any  # argparse's private _SubParsersAction


def register(commands: Sub, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "route",
        parents=[common],
        help="explain who a call from NUMBER would be routed to now",
        description="The plan a call from NUMBER on LINE would get now, with the reason of "
        "each attempt, and why each agent left out was skipped (busy, paused, offline, wrap-up, "
        "lapsed-owner, excluded, already-rung, plan-full). Claims no agent and writes nothing.",
    )
    p.add_argument("number", help="caller number, any usual spelling, or 'anonymous'")
    p.add_argument("--line", metavar="LINE", help="inbound number or office code (default: default_office)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run_route)

    p = commands.add_parser(
        "ledger",
        parents=[common],
        help="routed calls and how each attempt ended",
        description="The ledger of decisions and attempts, oldest first.",
    )
    time_window(p)
    household_option(p, "only this household's calls")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run_ledger)

    p = commands.add_parser(
        "splits",
        parents=[common],
        help="split bookings among the agents who worked each household",
        description="For each stored booking (`booking add`, `booking import`), or each booking in "
        "FILE.csv with --bookings (columns booking,household,amount,closed_at), share the amount "
        "among the agents who answered the household's calls in the window before closing. Bad "
        "rows are marked in the report; nothing is written. Exit 5 when every row is an error.",
    )
    time_window(p)
    household_option(p, "only this household's bookings")
    p.add_argument(
        "--bookings",
        type=Path,
        metavar="FILE.csv",
        help="split the bookings of this file, not the stored ones",
    )
    p.add_argument("--policy", choices=POLICIES, default="equal", help="how to share (default equal)")
    p.add_argument(
        "--window",
        type=int,
        default=split_report.DEFAULT_WINDOW_DAYS,
        metavar="DAYS",
        help=f"days before closing that count (default {split_report.DEFAULT_WINDOW_DAYS})",
    )
    p.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output")
    p.set_defaults(handler=run_splits)
    actions = p.add_subparsers(dest="splits_command", metavar="ACTION")
    o = actions.add_parser(
        "override",
        parents=[common],
        help="set how one booking is split, with a reason (audited)",
        description="Replace the policy's split of BOOKING by explicit percentages that total "
        "100, e.g. ivanova=60 petrov=40. BOOKING is a stored booking's reference, or one of the "
        "file given with --bookings; a booking that exists nowhere or an unknown agent is exit 3.",
    )
    o.add_argument("booking")
    o.add_argument("shares", nargs="+", metavar="LOGIN=PERCENT")
    o.add_argument("--reason", required=True, help="why; kept in the audit")
    o.add_argument(
        "--bookings", dest="override_bookings", type=Path, metavar="FILE.csv",
        help="the bookings file BOOKING is in, when it is not stored",
    )  # fmt: skip
    o.set_defaults(handler=run_splits_override)


def _planned(attempt: PlannedAttempt) -> dict[str, object]:
    """An attempt of `route --json`; `group` (the first seq of its group) only for agents rung together."""
    shown: dict[str, object] = {"agent": attempt.agent, "timeout": attempt.timeout, "reason": attempt.reason}
    if attempt.group:
        shown["group"] = attempt.group
    return shown


def run_route(ctx: Context, args: argparse.Namespace) -> None:
    explained = Router(ctx.db, ctx.settings).explain_why(args.number, args.line)
    decision, plan = explained.decision, explained.plan
    if args.json:
        print_json(
            {
                "number": str(decision.call.caller),
                "household": decision.household_id,
                "owner": decision.owner,
                "office": decision.office or None,
                "plan": [_planned(a) for a in plan.attempts],
                "then": plan.then,
                "skipped": [s.as_json() for s in explained.skipped],
            }
        )
        return
    household = decision.household_id or "none (new caller)"
    print(
        f"number {decision.call.caller}: household {household}, owner {decision.owner or '-'}, "
        f"office {decision.office or '-'}"
    )
    rows = [
        [a.seq, a.agent, a.dial, f"{a.timeout}s", a.reason, f"{a.wait_seconds}s" if a.wait_seconds else ""]
        for a in plan.attempts
    ]
    print_table(rows, ["#", "agent", "dial", "timeout", "reason", "wait"])
    for target in plan.targets():
        if len(target) > 1:
            print(f"rung together: {', '.join(a.agent for a in target)} ({joined_dial(target)})")
    print(f"then: {plan.then}")
    if explained.skipped:
        print("skipped: " + ", ".join(f"{s.agent} ({s.why})" for s in explained.skipped))


def run_ledger(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        household = ctx.household(s, args.household)
        found = ledger.entries(s, since=ctx.when(args.since), until=ctx.when(args.until), household=household)
    if args.json:
        print_json([e.as_json() for e in found])
        return
    rows = [
        [
            e.at.isoformat(timespec="seconds"),
            e.call,
            e.number or "anonymous",
            e.household,
            e.owner,
            e.route,
            e.answered_by,
            " ".join(f"{a.agent}:{a.status}" for a in e.attempts),
        ]
        for e in found
    ]
    print_table(rows, ["at", "call", "number", "household", "owner", "route", "answered", "attempts"])


def run_splits(ctx: Context, args: argparse.Namespace) -> int:
    if args.window < 0:
        raise InvalidInput(f"--window must be 0 or more days, not {args.window}")
    since, until = ctx.when(args.since), ctx.when(args.until)
    with ctx.db.reader() as s:
        household = ctx.household(s, args.household)
        if args.bookings is not None:
            listed = split_report.read_bookings(args.bookings)
        else:
            stored = bookings.list_bookings(s, household=household, since=since, until=until)
            listed = [b.for_report() for b in stored]
        results = split_report.report(
            s,
            listed,
            policy=args.policy,
            window_days=args.window,
            since=since,
            until=until,
            region=ctx.region,
            count_leads=ctx.settings.splits_count_leads,
        )
    if household is not None:
        results = [r for r in results if r.household == household]
    if args.format == "json":
        print_json([r.as_json() for r in results])
    elif args.format == "csv":
        csv.writer(sys.stdout, lineterminator="\n").writerows(split_report.csv_rows(results))
    else:
        reasons = {r.booking: r.reason for r in results if r.reason}
        rows = list(split_report.csv_rows(results))
        print_table(
            [[*r[:9], reasons.get(r[0], ""), r[9] and f"ERROR {r[9]}"] for r in rows[1:]],
            [*rows[0][:9], "override reason", "error"],
        )
    if results and all(r.error is not None for r in results):
        return ExitCode.INVALID
    return ExitCode.OK


def run_splits_override(ctx: Context, args: argparse.Namespace) -> None:
    shares = parse_override(args.shares)
    path = args.override_bookings or args.bookings
    in_file = split_report.read_bookings(path) if path else ()
    with ctx.db.unit_of_work() as s:
        split_report.save_override(
            s,
            args.booking,
            shares,
            reason=args.reason,
            actor=ctx.actor,
            region=ctx.region,
            file_bookings=in_file,
        )
    listed = ", ".join(f"{login} {percent}%" for login, percent in shares.items())
    print(f"booking {args.booking}: split {listed}")
