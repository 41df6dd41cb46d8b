"""`callkeeper dispute ...`: open, list, show and resolve disputes over a family."""

from __future__ import annotations

import argparse
from functools import partial

from router.cli.commands import Sub, action, group
from router.cli.context import Context, print_json, print_table
from router.directory import disputes
from router.splits.shares import POLICIES
from router.storage.db import utcnow
from router.storage.models import OWNERS_MODES


def register(commands: Sub, common: argparse.ArgumentParser) -> None:
    add = partial(action, common=common)
    dispute = group(
        commands, "dispute", "disputes: managers contesting a family, frozen until resolved", common=common
    )
    p = add(dispute, "open", "open a dispute over a family between managers", run_open)
    p.add_argument("household", type=int, metavar="HOUSEHOLD")
    p.add_argument(
        "--agents", required=True, metavar="A,B", help="the contesting managers' logins, comma-separated"
    )
    p.add_argument("--reason", required=True, help="why: recorded in the audit and the timeline")
    p = add(dispute, "list", "disputes, oldest first", run_list)
    p.add_argument("--open", action="store_true", help="only the disputes not resolved yet")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add(dispute, "show", "one dispute: who, why, since when, and its resolution", run_show)
    p.add_argument("dispute", type=int, metavar="ID")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add(
        dispute,
        "resolve",
        "decide a dispute: the owner from now on, the split",
        run_resolve,
    )
    p.add_argument("dispute", type=int, metavar="ID")
    p.add_argument("--owner", required=True, metavar="LOGIN", help="who owns the family from now on")
    p.add_argument(
        "--co-owner",
        action="append",
        default=[],
        metavar="LOGIN",
        help="a co-owner besides; repeatable; they become the family's co-owners (none: it has none)",
    )
    p.add_argument(
        "--mode",
        choices=OWNERS_MODES,
        default="equal",
        help="with --co-owner: equal (rung together, equal split; the default) or ordered (rung in turn)",
    )
    p.add_argument(
        "--policy", required=True, choices=POLICIES, help="how the bookings of the dispute's period are split"
    )
    p.add_argument("--reason", required=True, help="why: recorded in the audit and the timeline")


def run_open(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        view = disputes.open_dispute(
            s, args.household, args.agents.split(","), reason=args.reason, actor=ctx.actor
        )
    print(f"dispute {view.id} open over household {view.household}: {', '.join(view.agents)}")


def run_list(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        views = disputes.list_disputes(s, open_only=args.open)
    if args.json:
        print_json([v.as_json() for v in views])
        return
    now = utcnow()
    print_table(
        [
            [
                v.id,
                v.household,
                ",".join(v.agents),
                v.origin,
                v.opened_at.astimezone(ctx.zone).strftime("%Y-%m-%d %H:%M"),
                f"{v.age_days(now):.1f}",
                "open" if v.is_open else f"resolved: {v.owner}, {v.policy}",
            ]
            for v in views
        ],
        ["ID", "HOUSEHOLD", "AGENTS", "ORIGIN", "OPENED", "DAYS", "STATE"],
    )


def run_show(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        view = disputes.get_dispute(s, args.dispute)
    if args.json:
        print_json(view.as_json())
        return
    when = "%Y-%m-%d %H:%M"
    print(f"dispute {view.id} over household {view.household} ({view.origin})")
    print(f"agents:  {', '.join(view.agents)}")
    print(f"opened:  {view.opened_at.astimezone(ctx.zone).strftime(when)} by {view.opened_by}: {view.reason}")
    if view.resolved_at is None:
        print(f"open for {view.age_days(utcnow()):.1f} days")
        return
    print(f"resolved: {view.resolved_at.astimezone(ctx.zone).strftime(when)} by {view.resolved_by}")
    print(f"owner:   {view.owner}; co-owners: {', '.join(view.co_owners) or 'none'}; split: {view.policy}")
    print(f"reason:  {view.resolution}")


def run_resolve(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        view = disputes.resolve(
            s,
            args.dispute,
            owner=args.owner,
            co_owners=args.co_owner,
            mode=args.mode,
            policy=args.policy,
            reason=args.reason,
            actor=ctx.actor,
        )
    print(
        f"dispute {view.id} resolved: household {view.household} belongs to {view.owner}, split {view.policy}"
    )
