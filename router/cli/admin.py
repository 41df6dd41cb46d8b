"""Admin commands: db, office, agent, household, number, import, export, audit."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from router.cli import commands as tree
from router.cli import evidence
from router.cli.commands import Sub
from router.cli.context import Context, household_option, print_json, print_table, time_window
from router.directory import audit, handover, household_csv, household_reads, households, offices
from router.errors import InvalidInput
from router.storage.models import NUMBER_LABELS, OWNER_POLICIES, OWNERS_MODES, PRESENCE_STATES, STRATEGIES
from router.storage.views import HouseholdView


def register(commands: Sub, common: argparse.ArgumentParser) -> None:
    add = partial(tree.action, common=common)
    group = partial(tree.group, commands, common=common)

    db = group("db", "database schema")
    add(db, "upgrade", "create or upgrade the schema to this version", run_db_upgrade)

    office = group("office", "offices and their inbound lines")
    p = add(office, "add", "add an office", run_office_add)
    p.add_argument("code", help="short code, e.g. msk")
    p.add_argument("--name", default="", help="display name")
    p.add_argument(
        "--line",
        action="append",
        default=[],
        metavar="NUMBER",
        help="an inbound number (DNID) or line name of this office; repeatable",
    )
    p = add(office, "line", "add an inbound line to an office", run_office_line)
    p.add_argument("code")
    p.add_argument("line", metavar="NUMBER")
    p = add(office, "set", "change an office's name or routing settings", run_office_set)
    p.add_argument("code")
    p.add_argument("--name")
    p.add_argument("--strategy", choices=STRATEGIES, help="how a free agent is chosen")
    p.add_argument(
        "--owner-policy",
        choices=OWNER_POLICIES,
        help="what to do when the owner cannot take the call",
    )
    p.add_argument(
        "--owner-wait",
        type=int,
        metavar="SECONDS",
        help="with --owner-policy wait: how long to retry a busy owner",
    )
    p.add_argument("--attempt-timeout", type=int, metavar="SECONDS", help="ring time per agent")
    p.add_argument(
        "--wrapup",
        type=int,
        metavar="SECONDS",
        help="rest after a call before an agent counts as free",
    )
    p = add(office, "list", "list offices", run_office_list)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    agent = group("agent", "agents (managers) who take calls")
    p = add(agent, "add", "add an agent", run_agent_add)
    p.add_argument("login")
    p.add_argument("--office", required=True, metavar="CODE")
    p.add_argument("--dial", required=True, metavar="DIAL", help="Asterisk dial string, e.g. PJSIP/101")
    p.add_argument("--name", default="")
    p.add_argument("--backup", metavar="LOGIN", help="who takes the calls when this agent cannot")
    p = add(agent, "state", "set an agent available, paused or offline", run_agent_state)
    p.add_argument("login")
    p.add_argument("state", choices=PRESENCE_STATES)
    p = add(agent, "backup", "set or clear (with no LOGIN) an agent's backup", run_agent_backup)
    p.add_argument("login")
    p.add_argument("backup", nargs="?", metavar="BACKUP")
    p = add(agent, "list", "list agents", run_agent_list)
    p.add_argument("--office", metavar="CODE")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add(
        agent, "disable", "never ring an agent again (they left); history stays theirs", run_agent_disable
    )
    p.add_argument("login")
    p.add_argument("--reason", default="")
    p = add(agent, "enable", "take a disabled agent back, as offline", run_agent_enable)
    p.add_argument("login")
    p.add_argument("--reason", default="")
    p = add(
        agent,
        "handover",
        "give all of an agent's families to others, in one audited step",
        run_agent_handover,
    )
    p.add_argument("login", metavar="LOGIN", help="the leaving agent")
    to = p.add_mutually_exclusive_group(required=True)
    to.add_argument("--to", metavar="LOGIN", help="give every family to this agent")
    to.add_argument("--fair", action="store_true", help="spread the families over --office's enabled agents")
    p.add_argument("--office", metavar="CODE", help="with --fair: whose agents take the families")
    p.add_argument(
        "--rule",
        choices=handover.RULES,
        default="fewest",
        help="with --fair: fewest (to whoever owns fewest families, the default) or round-robin",
    )
    p.add_argument("--reason", default="", help="required unless --dry-run; recorded on every family")
    p.add_argument("--dry-run", action="store_true", help="show who gets what; change nothing")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    evidence.add_board(agent, common)

    household = group("household", "households: a family or a person, their numbers and owner")
    p = add(household, "add", "add a household; prints its id", run_household_add)
    p.add_argument("--name", default="")
    p.add_argument("--member", action="append", default=[], metavar="NAME", help="repeatable")
    p.add_argument(
        "--number",
        action="append",
        default=[],
        metavar="NUMBER[=LABEL]",
        help=f"repeatable; LABEL is one of {', '.join(NUMBER_LABELS)}",
    )
    p.add_argument("--owner", metavar="LOGIN")
    p.add_argument("--email", default="")
    p.add_argument("--address", default="")
    p = add(household, "show", "show a household by id or by one of its numbers", run_household_show)
    p.add_argument("ref", metavar="NUMBER|HOUSEHOLD")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add(household, "list", "list households", run_household_list)
    p.add_argument("--owner", metavar="LOGIN")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add(household, "merge", "merge OTHER into KEEP (numbers and members move)", run_household_merge)
    p.add_argument("keep", type=int, metavar="KEEP")
    p.add_argument("other", type=int, metavar="OTHER")
    p.add_argument("--owner", metavar="LOGIN", help="required when the two owners differ")
    p.add_argument("--reason", default="")
    p = add(household, "transfer", "give a household to another agent", run_household_transfer)
    p.add_argument("household", type=int, metavar="HOUSEHOLD")
    p.add_argument("login", metavar="LOGIN")
    p.add_argument("--reason", required=True)
    p = add(
        household,
        "owners",
        "set a household's owners: the first is its owner, the others co-owners",
        run_household_owners,
    )
    p.add_argument("household", type=int, metavar="HOUSEHOLD")
    p.add_argument(
        "logins", nargs="+", metavar="LOGIN", help="the owners in order; one login clears the co-owners"
    )
    p.add_argument(
        "--mode",
        choices=OWNERS_MODES,
        default="ordered",
        help="ordered: rung one after another (the default); equal: rung together, split equally",
    )
    p.add_argument("--reason", required=True, help="why: recorded in the audit")
    p = add(household, "exclude", "never route a household's calls to an agent", run_household_exclude)
    p.add_argument("household", type=int, metavar="HOUSEHOLD")
    p.add_argument("login", metavar="LOGIN")
    p.add_argument("--reason", default="")

    p = add(
        household,
        "include",
        "undo an exclusion: route a household's calls to an agent again",
        run_household_include,
    )
    p.add_argument("household", type=int, metavar="HOUSEHOLD")
    p.add_argument("login", metavar="LOGIN")
    p.add_argument("--reason", default="")
    p = add(household, "member", "add a person to a household", run_household_member)
    p.add_argument("household", type=int, metavar="HOUSEHOLD")
    p.add_argument("name", metavar="NAME", help="full name, e.g. 'Иванова Мария'")

    number = group("number", "link phone numbers to households")
    p = add(number, "link", "link a number to a household", run_number_link)
    p.add_argument("number")
    p.add_argument("household", type=int, metavar="HOUSEHOLD")
    p.add_argument("--label", default="mobile", choices=NUMBER_LABELS)
    p.add_argument("--move", action="store_true", help="take the number from another household")
    p.add_argument("--reason", default="")
    p = add(number, "unlink", "remove a number from its household", run_number_unlink)
    p.add_argument("number")
    p.add_argument("--reason", default="")

    p = add(number, "relabel", "change the label of a household's number", run_number_relabel)
    p.add_argument("number")
    p.add_argument("household", type=int, metavar="HOUSEHOLD")
    p.add_argument("label", choices=NUMBER_LABELS)

    p = add(commands, "import", "import households from CSV (all rows or none)", run_import)
    p.add_argument("file", type=Path, metavar="FILE.csv")
    p = add(commands, "export", "export households to CSV ('-' for stdout)", run_export)
    p.add_argument("file", metavar="FILE.csv")
    p = add(commands, "audit", "the audit trail of links, merges and ownership", run_audit)
    household_option(p, "only this household's")
    p.add_argument("--by", metavar="NAME", help="only changes made by NAME (a CLI user or a console login)")
    p.add_argument("--action", metavar="ACTION", help="only this action, e.g. link, move, merge, transfer")
    time_window(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run_db_upgrade(ctx: Context, args: argparse.Namespace) -> None:
    from router.storage.db import Database

    database = Database(ctx.settings.db)
    try:
        database.upgrade()
    finally:
        database.dispose()
    print("schema is up to date")


def run_office_add(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        view = offices.add_office(s, args.code, name=args.name, lines=args.line, region=ctx.region)
    print(f"office {view.code} added" + (f" with lines {', '.join(view.lines)}" if view.lines else ""))


def run_office_line(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        offices.add_line(s, args.code, args.line, region=ctx.region)
    print(f"line {args.line} added to office {args.code}")


def run_office_set(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        view = offices.set_office(
            s,
            args.code,
            name=args.name,
            strategy=args.strategy,
            owner_policy=args.owner_policy,
            owner_wait=args.owner_wait,
            attempt_timeout=args.attempt_timeout,
            wrapup=args.wrapup,
        )
    print(
        f"office {view.code}: strategy {view.strategy}, owner policy {view.owner_policy}, "
        f"owner wait {view.owner_wait_seconds}s, attempt timeout {view.attempt_timeout_seconds}s, "
        f"wrap-up {view.wrapup_seconds}s"
    )


def run_office_list(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        listed = offices.list_offices(s)
    if args.json:
        print_json([o.as_json() for o in listed])
        return
    print_table(
        [[o.code, o.name, " ".join(o.lines), o.strategy, o.owner_policy] for o in listed],
        ["CODE", "NAME", "LINES", "STRATEGY", "OWNER POLICY"],
    )


def run_agent_add(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        view = offices.add_agent(
            s, args.login, office=args.office, dial=args.dial, name=args.name, backup=args.backup
        )
    print(f"agent {view.login} added to office {view.office}")


def run_agent_state(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        view = offices.set_agent_state(s, args.login, args.state)
    print(f"agent {view.login} is {view.state}")


def run_agent_backup(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        view = offices.set_agent_backup(s, args.login, args.backup)
    print(f"agent {view.login}: backup {view.backup or 'none'}")


def run_agent_disable(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        view = offices.disable_agent(s, args.login, actor=ctx.actor, reason=args.reason)
    print(f"agent {view.login} is disabled; hand their families over with: agent handover {view.login}")


def run_agent_enable(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        view = offices.enable_agent(s, args.login, actor=ctx.actor, reason=args.reason)
    print(f"agent {view.login} is enabled, {view.state}")


def run_agent_handover(ctx: Context, args: argparse.Namespace) -> None:
    if args.fair and not args.office:
        raise InvalidInput("--fair needs --office CODE: whose agents take the families")
    if not args.dry_run and not args.reason.strip():
        raise InvalidInput("a handover needs --reason (or --dry-run to only see the plan)")
    with ctx.db.unit_of_work() as s:
        plan = handover.plan_handover(
            s, args.login, to=args.to, office=args.office if args.fair else None, rule=args.rule
        )
        if not args.dry_run:
            handover.apply_handover(s, plan, reason=args.reason, actor=ctx.actor)
    if args.json:
        print_json(
            {
                "leaving": plan.leaving,
                "dry_run": args.dry_run,
                "families": [{"household": m.household_id, "name": m.name, "to": m.to} for m in plan.moves],
                "counts": plan.counts(),
                "backups": [{"agent": b.agent, "to": b.to} for b in plan.backups],
                "disputed": [{"household": m.household_id, "name": m.name} for m in plan.disputed],
            }
        )
        return
    print_table([[m.household_id, m.name, m.to] for m in plan.moves], ["HOUSEHOLD", "NAME", "TO"])
    for b in plan.backups:
        print(f"agent {b.agent}: backup {plan.leaving} -> {b.to or 'none (office pool)'}")
    counts = ", ".join(f"{login} {n}" for login, n in sorted(plan.counts().items())) or "none"
    for m in plan.disputed:
        print(f"household {m.household_id} {m.name}: left out, in an open dispute (resolve it first)")
    verb = "would move" if args.dry_run else "moved"
    print(f"{verb} {len(plan.moves)} families from {plan.leaving}: {counts}")


def run_agent_list(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        agents = offices.list_agents(s, args.office)
    if args.json:
        print_json([a.as_json() for a in agents])
        return
    print_table(
        [[a.login, a.name, a.office, a.dial, a.backup, a.state] for a in agents],
        ["LOGIN", "NAME", "OFFICE", "DIAL", "BACKUP", "STATE"],
    )


def run_household_add(ctx: Context, args: argparse.Namespace) -> None:
    specs = [household_reads.parse_number_spec(n, ctx.region) for n in args.number]
    with ctx.db.unit_of_work() as s:
        view = households.add_household(
            s,
            name=args.name,
            members=args.member,
            numbers=specs,
            owner=args.owner,
            email=args.email,
            address=args.address,
            actor=ctx.actor,
        )
    print(view.id)


def run_household_show(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        view = household_reads.household_view(household_reads.resolve(s, args.ref, ctx.region))
    if args.json:
        print_json(view.as_json())
    else:
        _print_household(view)


def run_household_list(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        views = household_reads.list_households(s, args.owner)
    if args.json:
        print_json([v.as_json() for v in views])
        return
    print_table(
        [[v.id, v.name, v.owner, "; ".join(v.members), " ".join(n.number for n in v.numbers)] for v in views],
        ["ID", "NAME", "OWNER", "MEMBERS", "NUMBERS"],
    )


def run_household_merge(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        view = households.merge(
            s, args.keep, args.other, owner=args.owner, actor=ctx.actor, reason=args.reason
        )
    print(f"household {args.other} merged into {view.id} (owner {view.owner or 'none'})")


def run_household_transfer(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        view = households.transfer(s, args.household, args.login, reason=args.reason, actor=ctx.actor)
    print(f"household {view.id} now belongs to {view.owner}")


def run_household_owners(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        view = households.set_owners(
            s, args.household, args.logins, mode=args.mode, reason=args.reason, actor=ctx.actor
        )
    if view.co_owners:
        owners = ", ".join((view.owner or "", *view.co_owners))
        print(f"household {view.id} belongs to {owners} ({view.owners_mode})")
    else:
        print(f"household {view.id} belongs to {view.owner}; no co-owners")


def run_household_exclude(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        households.exclude(s, args.household, args.login, actor=ctx.actor, reason=args.reason)
    print(f"calls of household {args.household} will not be routed to {args.login}")


def run_household_include(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        households.include(s, args.household, args.login, actor=ctx.actor, reason=args.reason)
    print(f"calls of household {args.household} may be routed to {args.login} again")


def run_household_member(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        view = households.add_member(s, args.household, args.name, actor=ctx.actor)
    print(f"household {view.id}: members {'; '.join(view.members)}")


def run_number_relabel(ctx: Context, args: argparse.Namespace) -> None:
    number = household_reads.parse_number(args.number, ctx.region)
    with ctx.db.unit_of_work() as s:
        households.relabel(s, number.key, args.household, args.label, actor=ctx.actor)
    print(f"{number.key} of household {args.household} is now labelled {args.label}")


def run_number_link(ctx: Context, args: argparse.Namespace) -> None:
    number = household_reads.parse_number(args.number, ctx.region)
    with ctx.db.unit_of_work() as s:
        households.link(
            s,
            number.key,
            args.household,
            label=args.label,
            move=args.move,
            actor=ctx.actor,
            reason=args.reason,
        )
    print(f"{number.key} linked to household {args.household}")


def run_number_unlink(ctx: Context, args: argparse.Namespace) -> None:
    number = household_reads.parse_number(args.number, ctx.region)
    with ctx.db.unit_of_work() as s:
        household = households.unlink(s, number.key, actor=ctx.actor, reason=args.reason)
    print(f"{number.key} unlinked from household {household}")


def run_import(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        count = household_csv.import_households(s, args.file, region=ctx.region, actor=ctx.actor)
    print(f"imported {count} households from {args.file}")


def run_export(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        if args.file == "-":
            household_csv.export_households(s, sys.stdout)
            return
        target = Path(args.file)
        if not target.parent.is_dir():
            raise InvalidInput(f"folder {target.parent} does not exist")
        tmp = target.with_name(target.name + ".part")
        with tmp.open("w", encoding="utf-8", newline="") as out:
            count = household_csv.export_households(s, out)
        tmp.replace(target)
    print(f"exported {count} households to {target}")


def run_audit(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        entries = audit.trail(
            s,
            ctx.household(s, args.household),
            actor=args.by,
            action=args.action,
            since=ctx.when(args.since),
            until=ctx.when(args.until),
        )
    if args.json:
        print_json([e.as_json() for e in entries])
        return
    print_table(
        [
            [
                e.at.isoformat(timespec="seconds"),
                e.action,
                e.household,
                e.subject,
                e.before,
                e.after,
                e.reason,
                e.actor,
            ]
            for e in entries
        ],
        ["AT", "ACTION", "HOUSEHOLD", "SUBJECT", "BEFORE", "AFTER", "REASON", "ACTOR"],
    )


def _print_household(view: HouseholdView) -> None:
    print(f"household {view.id}: {view.name or '(no name)'}")
    print(f"  owner:        {view.owner or 'none'}")
    if view.co_owners:
        print(f"  co-owners:    {', '.join(view.co_owners)} ({view.owners_mode})")
    for member in view.members:
        print(f"  member:       {member}")
    for n in view.numbers:
        print(f"  number:       {n.number} ({n.label})")
    if view.email:
        print(f"  email:        {view.email}")
    if view.address:
        print(f"  address:      {view.address}")
    print(f"  created:      {view.created_at.isoformat(timespec='seconds')}")
    last = view.last_contact_at.isoformat(timespec="seconds") if view.last_contact_at else "never"
    print(f"  last contact: {last}")
