"""Routing commands: route (explain a decision), ledger, splits and split overrides."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from router.cli.context import Context, iso_time, print_json, print_table
from router.errors import InvalidInput
from router.routing import ledger
from router.routing.service import Router
from router.splits import split_report
from router.splits.shares import POLICIES, parse_override

Sub = Any  # argparse's private _SubParsersAction


def register(commands: Sub, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "route",
        parents=[common],
        help="explain who a call from NUMBER would be routed to now",
        description="The plan a call from NUMBER on LINE would get now, with the reason of "
        "each attempt. Claims no agent and writes nothing.",
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
    _time_window(p)
    p.add_argument("--household", type=int, metavar="ID", help="only this household's calls")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run_ledger)

    p = commands.add_parser(
        "splits",
        parents=[common],
        help="split bookings among the agents who worked each household",
        description="For each booking in FILE.csv (columns booking,household,amount,closed_at), "
        "share the amount among the agents who answered the household's calls in the window "
        "before closing. Bad rows are marked in the report; nothing is written.",
    )
    _time_window(p)
    p.add_argument("--bookings", type=Path, metavar="FILE.csv", help="the bookings to split")
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
        "100, e.g. ivanova=60 petrov=40.",
    )
    o.add_argument("booking")
    o.add_argument("shares", nargs="+", metavar="LOGIN=PERCENT")
    o.add_argument("--reason", required=True, help="why; kept in the audit")
    o.set_defaults(handler=run_splits_override)


def _time_window(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=iso_time, metavar="T", help="from this ISO date or time (UTC)")
    parser.add_argument("--until", type=iso_time, metavar="T", help="before this ISO date or time (UTC)")


def run_route(ctx: Context, args: argparse.Namespace) -> None:
    decision, plan = Router(ctx.db, ctx.settings).explain(args.number, args.line)
    if args.json:
        print_json(
            {
                "number": str(decision.call.caller),
                "household": decision.household_id,
                "owner": decision.owner,
                "plan": [{"agent": a.agent, "timeout": a.timeout, "reason": a.reason} for a in plan.attempts],
                "then": plan.then,
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
    print(f"then: {plan.then}")


def run_ledger(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        found = ledger.entries(s, since=args.since, until=args.until, household=args.household)
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


def run_splits(ctx: Context, args: argparse.Namespace) -> None:
    if args.bookings is None:
        raise InvalidInput("splits needs --bookings FILE.csv")
    if args.window < 0:
        raise InvalidInput(f"--window must be 0 or more days, not {args.window}")
    bookings = split_report.read_bookings(args.bookings)
    with ctx.db.reader() as s:
        results = split_report.report(
            s,
            bookings,
            policy=args.policy,
            window_days=args.window,
            since=args.since,
            until=args.until,
            region=ctx.region,
        )
    if args.format == "json":
        print_json([r.as_json() for r in results])
    elif args.format == "csv":
        csv.writer(sys.stdout, lineterminator="\n").writerows(split_report.csv_rows(results))
    else:
        rows = list(split_report.csv_rows(results))
        print_table([r[:7] + r[7:9] + [r[9] and f"ERROR {r[9]}"] for r in rows[1:]], rows[0])


def run_splits_override(ctx: Context, args: argparse.Namespace) -> None:
    shares = parse_override(args.shares)
    with ctx.db.unit_of_work() as s:
        split_report.save_override(s, args.booking, shares, reason=args.reason, actor=ctx.actor)
    listed = ", ".join(f"{login} {percent}%" for login, percent in shares.items())
    print(f"booking {args.booking}: split {listed}")
