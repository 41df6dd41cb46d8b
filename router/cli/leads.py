"""`callkeeper lead ...` and `callkeeper token ...`: orders from the website and CRMs, and their sources."""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import datetime
from functools import partial
from pathlib import Path

from router.cli.commands import Sub, action, group
from router.cli.context import Context, print_json, print_table
from router.errors import InvalidInput
from router.leads import sources, store, webhooks

IMPORT_COLUMNS = ("external_id", "phone", "name", "email", "line", "office", "note", "created_at")


def register(commands: Sub, common: argparse.ArgumentParser) -> None:
    add = partial(action, common=common)
    lead = group(
        commands,
        "lead",
        "leads: orders that arrive without a call, given out by the call rules",
        common=common,
    )
    p = add(lead, "add", "take in one lead and say who gets it", run_lead_add)
    p.add_argument("--source", required=True, help="the lead's source (see token add)")
    p.add_argument("--external-id", required=True, metavar="ID", help="the order's id in its source")
    p.add_argument("--phone", default="", help="any usual spelling")
    p.add_argument("--name", default="")
    p.add_argument("--email", default="")
    p.add_argument("--line", default="", help="the inbound number or line the order names")
    p.add_argument("--office", default="", help="office code, when no line is given")
    p.add_argument("--note", default="")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add(lead, "import", "take in leads from CSV (all rows or none)", run_lead_import)
    p.add_argument(
        "file", type=Path, metavar="FILE.csv", help=f"columns (any subset): {', '.join(IMPORT_COLUMNS)}"
    )
    p.add_argument("--source", required=True)
    p = add(lead, "list", "leads, newest first", run_lead_list)
    p.add_argument("--household", type=int, metavar="ID")
    p.add_argument("--provisional", action="store_true", help="only matches waiting for a person")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add(lead, "confirm", "agree a provisional match: link the lead's number there", run_lead_confirm)
    p.add_argument("lead", type=int, metavar="LEAD")
    p = add(lead, "reject", "refuse a provisional match: the lead gets its own family", run_lead_reject)
    p.add_argument("lead", type=int, metavar="LEAD")
    p = add(lead, "deliver", "send the webhook deliveries that are due now", run_lead_deliver)
    p = add(lead, "deliveries", "webhook deliveries, newest first", run_lead_deliveries)
    p.add_argument("--dead", action="store_true", help="only those that gave up")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add(lead, "redeliver", "try a dead webhook delivery again", run_lead_redeliver)
    p.add_argument("delivery", type=int, metavar="DELIVERY")

    token = group(commands, "token", "lead sources and their API tokens", common=common)
    p = add(token, "add", "add a source; prints its token once", run_token_add)
    p.add_argument("source", metavar="SOURCE", help="e.g. website, uon, bitrix24")
    p.add_argument("--webhook", default="", metavar="URL", help="POST each assignment back to this URL")
    p = add(token, "revoke", "stop a source's token at once", run_token_revoke)
    p.add_argument("source", metavar="SOURCE")
    p = add(token, "list", "sources and whether their tokens work", run_token_list)
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run_lead_add(ctx: Context, args: argparse.Namespace) -> None:
    lead = store.LeadIn(
        external_id=args.external_id,
        phone=args.phone,
        name=args.name,
        email=args.email,
        line=args.line,
        office=args.office,
        note=args.note,
    )
    result, created = store.submit(ctx.db, args.source, lead, settings=ctx.settings)
    if args.json:
        print_json(result.reply() | {"created": created})
        return
    said = "lead" if created else "already taken in as lead"
    print(
        f"{said} {result.lead}: household {result.household}, "
        f"{result.assigned_to or 'nobody available'} ({result.reason}, matched by {result.matched_by})"
        + (f", duplicate of lead {result.duplicate_of}" if result.duplicate_of else "")
        + (", provisional" if result.provisional else "")
    )


def run_lead_import(ctx: Context, args: argparse.Namespace) -> None:
    leads = _read_leads(args.file, ctx.region)
    with ctx.db.unit_of_work() as s:
        results = [store.submit_in(s, args.source, lead, settings=ctx.settings) for lead in leads]
    new = sum(1 for _, created in results if created)
    print(f"imported {new} leads ({len(results) - new} already taken in) from {args.file}")


def run_lead_list(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        leads = store.list_leads(s, household=args.household, provisional=args.provisional, limit=args.limit)
    if args.json:
        print_json([lead.as_json() for lead in leads])
        return
    print_table(
        [
            [
                v.lead,
                v.received_at.isoformat(timespec="seconds"),
                v.source,
                v.external_id,
                v.phone or v.email,
                v.household,
                v.assigned_to or "-",
                v.reason,
                "yes" if v.provisional else "",
            ]
            for v in leads
        ],
        ["LEAD", "RECEIVED", "SOURCE", "ID", "CONTACT", "HOUSEHOLD", "AGENT", "REASON", "PROVISIONAL"],
    )


def run_lead_confirm(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        result = store.confirm(s, args.lead, actor=ctx.actor)
    print(f"lead {result.lead} confirmed: household {result.household}")


def run_lead_reject(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        result = store.reject(s, args.lead, actor=ctx.actor, settings=ctx.settings)
    print(f"lead {result.lead} rejected: new household {result.household}")


def run_lead_deliver(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        delivered = webhooks.deliver_due(s)
    print(f"delivered {delivered}")


def run_lead_deliveries(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        found = webhooks.list_deliveries(s, dead=args.dead)
    if args.json:
        print_json(
            [
                {
                    "id": d.id,
                    "lead": d.lead,
                    "url": d.url,
                    "tries": d.tries,
                    "next_at": d.next_at.isoformat(),
                    "last_error": d.last_error,
                    "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
                    "dead": d.dead,
                }
                for d in found
            ]
        )
        return
    print_table(
        [
            [
                d.id,
                d.lead,
                d.tries,
                "delivered" if d.delivered_at else "dead" if d.dead else "waiting",
                d.last_error,
            ]
            for d in found
        ],
        ["ID", "LEAD", "TRIES", "STATE", "LAST ERROR"],
    )


def run_lead_redeliver(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        webhooks.redeliver(s, args.delivery)
    print(f"delivery {args.delivery} will be tried again")


def run_token_add(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        made = sources.add_source(s, args.source, webhook_url=args.webhook, actor=ctx.actor)
    print(f"source {made.name}: token {made.token}")
    if made.webhook_secret:
        print(f"webhook signing secret {made.webhook_secret}")
    print("Shown once: store it in the source's settings now.", file=sys.stderr)


def run_token_revoke(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        sources.revoke_source(s, args.source, actor=ctx.actor)
    print(f"source {args.source}: token revoked")


def run_token_list(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        found = sources.list_sources(s)
    if args.json:
        print_json([v.as_json() for v in found])
        return
    print_table(
        [
            [
                v.name.split("~")[0],
                v.created_at.isoformat(timespec="seconds"),
                "revoked" if v.revoked_at else "active",
                v.webhook_url or "-",
            ]
            for v in found
        ],
        ["SOURCE", "ADDED", "TOKEN", "WEBHOOK"],
    )


def _read_leads(path: Path, region: str) -> list[store.LeadIn]:
    """Every row checked before anything is written; all bad rows are reported at once."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            unknown = sorted(set(reader.fieldnames or ()) - set(IMPORT_COLUMNS))
            if unknown:
                raise InvalidInput(f"{path}: unknown column(s) {', '.join(unknown)}")
            rows = list(enumerate(reader, start=2))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInput(f"{path}: not a readable CSV file ({exc})") from None
    leads, errors, seen = [], [], set()
    for line, row in rows:
        try:
            lead = store.check(
                store.LeadIn(
                    external_id=row.get("external_id") or "",
                    phone=row.get("phone") or "",
                    name=row.get("name") or "",
                    email=row.get("email") or "",
                    line=row.get("line") or "",
                    office=row.get("office") or "",
                    note=row.get("note") or "",
                    created_at=_when(row.get("created_at") or ""),
                ),
                region,
            )
        except InvalidInput as exc:
            errors.append(f"line {line}: {exc}")
            continue
        if lead.external_id in seen:
            errors.append(f"line {line}: external_id {lead.external_id} appears twice")
        seen.add(lead.external_id)
        leads.append(lead)
    if errors:
        more = f"\n... and {len(errors) - 50} more" if len(errors) > 50 else ""
        raise InvalidInput("nothing imported:\n" + "\n".join(errors[:50]) + more)
    return leads


def _when(text: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"created_at: {text!r} is not an ISO 8601 time") from None
