"""Evidence commands: bookings, a household's timeline, and the agents board."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from router.cli.context import Context, household_option, print_json, print_table, time_option, time_window
from router.errors import InvalidInput
from router.routing import agent_board
from router.splits import bookings, split_report, timeline
from router.splits.shares import POLICIES, format_amount, parse_amount

Sub = Any  # argparse's private _SubParsersAction


def register(commands: Sub, common: argparse.ArgumentParser) -> None:
    group = commands.add_parser(
        "booking",
        parents=[common],
        help="bookings (sales) that splits divide",
        description="Bookings kept in the database: each a household's sale with its reference, "
        "amount and closing time. `splits` divides them.",
    )
    actions = group.add_subparsers(dest="booking_command", metavar="ACTION", required=True)
    p = actions.add_parser(
        "add", parents=[common], help="add one booking", description="Add one booking of HOUSEHOLD."
    )
    p.add_argument("household", metavar="HOUSEHOLD", help="its id or any of its numbers")
    p.add_argument("--amount", required=True, help="money such as 1234.56 (at most two decimals)")
    p.add_argument(
        "--at", required=True, type=time_option, metavar="T", help="closing time, ISO (UTC if no zone)"
    )
    p.add_argument("--ref", required=True, help="the booking's reference in its source; unique there")
    p.add_argument(
        "--source", default=bookings.MANUAL, help=f"where the booking comes from (default {bookings.MANUAL})"
    )
    p.add_argument("--note", default="", help="free text, e.g. the tour")
    p.set_defaults(handler=run_booking_add)
    p = actions.add_parser(
        "import",
        parents=[common],
        help="import bookings from CSV (all rows or none)",
        description="Store the bookings of FILE.csv, the format `splits --bookings` reads "
        "(columns booking,household,amount,closed_at). Any bad row, or a reference already stored "
        "for the source, and nothing is written (exit 5).",
    )
    p.add_argument("file", type=Path, metavar="FILE.csv")
    p.add_argument(
        "--source",
        default=bookings.IMPORTED,
        help=f"the source of the references (default {bookings.IMPORTED})",
    )
    p.set_defaults(handler=run_booking_import)
    p = actions.add_parser(
        "list", parents=[common], help="list bookings", description="Stored bookings by closing time."
    )
    household_option(p, "only this household's bookings")
    time_window(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run_booking_list)

    p = commands.add_parser(
        "timeline",
        parents=[common],
        help="the evidence timeline of a household",
        description="Every call (attempts, who answered, talk time, covering for whom), every audit "
        "event and every stored booking with its split, of HOUSEHOLD, in time order.",
    )
    p.add_argument("household", metavar="HOUSEHOLD", help="its id or any of its numbers")
    time_window(p)
    p.add_argument(
        "--policy", choices=POLICIES, default="equal", help="how bookings are split (default equal)"
    )
    p.add_argument(
        "--window",
        type=int,
        default=split_report.DEFAULT_WINDOW_DAYS,
        metavar="DAYS",
        help=f"days before closing that count for a split (default {split_report.DEFAULT_WINDOW_DAYS})",
    )
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="machine-readable output")
    output.add_argument(
        "--csv", type=Path, metavar="FILE", help="write the timeline to FILE as CSV ('-' for stdout)"
    )
    p.set_defaults(handler=run_timeline)


def add_board(agent: Sub, common: argparse.ArgumentParser) -> None:
    """`agent board`, in the `agent` group of the admin commands."""
    p = agent.add_parser(
        "board",
        parents=[common],
        help="each agent's live state and today's calls",
        description="Per agent: live state (available, paused, offline, on-call, wrap-up), calls "
        "and answers today, and the owner hit rate today, in the agency's day (`timezone`).",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=run_agent_board)


def run_booking_add(ctx: Context, args: argparse.Namespace) -> None:
    amount = parse_amount(args.amount)
    closed_at = ctx.when(args.at)
    assert closed_at is not None
    with ctx.db.unit_of_work() as s:
        household = ctx.household(s, args.household)
        assert household is not None
        view = bookings.add_booking(
            s,
            household,
            ref=args.ref,
            amount=amount,
            closed_at=closed_at,
            actor=ctx.actor,
            note=args.note,
            source=args.source,
        )
    print(f"booking {view.ref} ({view.source}) of household {view.household}: {format_amount(view.amount)}")


def run_booking_import(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        count = bookings.import_bookings(s, args.file, region=ctx.region, actor=ctx.actor, source=args.source)
    print(f"imported {count} bookings from {args.file}")


def run_booking_list(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        household = ctx.household(s, args.household)
        found = bookings.list_bookings(
            s, household=household, since=ctx.when(args.since), until=ctx.when(args.until)
        )
    if args.json:
        print_json([b.as_json() for b in found])
        return
    print_table(
        [
            [
                b.closed_at.isoformat(timespec="seconds"),
                b.ref,
                b.source,
                b.household,
                format_amount(b.amount),
                b.note,
                b.added_by,
            ]
            for b in found
        ],
        ["CLOSED", "REF", "SOURCE", "HOUSEHOLD", "AMOUNT", "NOTE", "ADDED BY"],
    )


def run_timeline(ctx: Context, args: argparse.Namespace) -> None:
    if args.window < 0:
        raise InvalidInput(f"--window must be 0 or more days, not {args.window}")
    with ctx.db.reader() as s:
        household = ctx.household(s, args.household)
        assert household is not None
        found = timeline.timeline(
            s,
            household,
            since=ctx.when(args.since),
            until=ctx.when(args.until),
            policy=args.policy,
            window_days=args.window,
            region=ctx.region,
            count_leads=ctx.settings.splits_count_leads,
        )
    if args.json:
        print_json(found.as_json())
    elif args.csv is not None:
        _write_csv(args.csv, found)
    else:
        _print_timeline(ctx, found)


def _write_csv(target: Path, found: timeline.Timeline) -> None:
    if str(target) == "-":
        csv.writer(sys.stdout, lineterminator="\n").writerows(timeline.csv_rows(found))
        return
    if not target.parent.is_dir():
        raise InvalidInput(f"folder {target.parent} does not exist")
    part = target.with_name(target.name + ".part")
    with part.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out, lineterminator="\n").writerows(timeline.csv_rows(found))
    part.replace(target)
    print(f"wrote {len(found.events)} events of household {found.household} to {target}")


def _print_timeline(ctx: Context, found: timeline.Timeline) -> None:
    """One line per event, times in the agency's zone; a call's attempts indented under it."""
    for event in found.events:
        at = event.at.astimezone(ctx.zone).isoformat(timespec="seconds")
        if isinstance(event, timeline.CallEvent):
            e = event.entry
            print(
                f"{at}  call {e.call} from {e.number or 'anonymous'} on {e.line or '-'} "
                f"(office {e.office or '-'}), route {e.route}, answered by {e.answered_by or 'nobody'}"
            )
            for a in e.attempts:
                covering = f", covering for {a.covering_for}" if a.covering_for else ""
                print(
                    f"    {a.agent or '-'} ({a.reason}) {a.status}, rang {a.ring_seconds:g}s, "
                    f"talked {a.talk_seconds:g}s{covering}"
                )
        elif isinstance(event, timeline.LeadEvent):
            o = event.lead
            waiting = ", provisional" if o.provisional else ""
            print(
                f"{at}  lead {o.lead} ({o.source}/{o.external_id}) by {o.matched_by}{waiting}, "
                f"given to {o.assigned_to or 'nobody'} ({o.reason})"
            )
        elif isinstance(event, timeline.AuditEvent):
            x = event.entry
            change = f" {x.before} -> {x.after}" if x.before or x.after else ""
            why = f" ({x.reason})" if x.reason else ""
            print(f"{at}  {x.action} {x.subject}{change} by {x.actor}{why}")
        else:
            b, split = event.booking, event.split
            shares = ", ".join(f"{s.agent} {format_amount(s.amount)} ({s.percent}%)" for s in split.shares)
            detail = f"ERROR {split.error}" if split.error else f"{split.policy}: {shares}"
            why = f" ({split.reason})" if split.reason else ""
            print(f"{at}  booking {b.ref} {format_amount(b.amount)}, {detail}{why}")


def run_agent_board(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        found = agent_board.board(s, now=datetime.now(UTC), zone=ctx.zone)
    if args.json:
        print_json([a.as_json() for a in found])
        return
    print_table(
        [
            [
                a.login,
                a.office,
                a.live,
                a.calls_today,
                a.answered_today,
                a.owned_calls,
                a.owner_free_answered,
                a.owner_free_missed,
                a.owner_away_covered,
                _percent(a.hit_rate),
            ]
            for a in found
        ],
        [
            "LOGIN",
            "OFFICE",
            "LIVE",
            "CALLS",
            "ANSWERED",
            "OWNED",
            "OWNER FREE+GOT",
            "OWNER FREE+MISSED",
            "AWAY+COVERED",
            "HIT RATE",
        ],
    )


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.0f} %"
