"""`callkeeper suggest`: proposed links for unlinked callers, merges, and recent call households.

One command with the issue's four spellings:

    callkeeper suggest NUMBER [--name N] [--email E] [--address A] [--limit 5] [--json]
    callkeeper suggest --households [--min-score S] [--json]
    callkeeper suggest --recent [--days 7] [--json]
    callkeeper suggest accept NUMBER HOUSEHOLD [--move]

`accept` is read as the first word rather than as a subcommand, because
argparse cannot mix a subcommand with an optional positional NUMBER.
"""

from __future__ import annotations

import argparse
from typing import Any

from identity.calibration import confidence
from identity.matching import DEFAULT_THRESHOLD, SHOW_THRESHOLD
from identity.numbers import normalize
from identity.records import Pair, Suggestion
from router.cli.context import Context, print_json, print_table
from router.directory import household_reads, suggestions
from router.errors import InvalidInput

Sub = Any  # argparse's private _SubParsersAction

_FORMS = f"""\
forms:
  suggest NUMBER [--name NAME]... [--email E] [--address A] [--limit N] [--json]
      households this caller (a number in no household) probably belongs to
  suggest --households [--min-score S] [--json]
      pairs of existing households that are probably one family, for merges
  suggest --recent [--days 7] [--json]
      households created from calls lately, each with its best existing match
  suggest accept NUMBER HOUSEHOLD [--move]
      link NUMBER to HOUSEHOLD (an id or one of its numbers), audited;
      --move takes the number from another household

Scores run 0-100 with their reasons; only scores of --min-score or more are
shown (default {SHOW_THRESHOLD} for a caller: any surname family, with the count of
families sharing it; {DEFAULT_THRESHOLD} for --households and --recent). CONFIDENCE is
the share of suggestions at that score found right on the labelled evaluation;
AUTO says the score reaches the setting suggest_auto_threshold, at which a lead
may be assigned without a person. Suggestions never route a call: only links do.
"""


def register(commands: Sub, common: argparse.ArgumentParser) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "suggest",
        help="suggest the household of an unlinked caller, merges, and recent matches",
        description="Suggest which household an unlinked caller or a household belongs to.",
        epilog=_FORMS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.set_defaults(handler=run_suggest, parser=parser)
    parser.add_argument(
        "words", nargs="*", metavar="NUMBER", help="the caller's number, or: accept NUMBER HOUSEHOLD"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--households", action="store_true", help="pairs of households that are probably one family"
    )
    mode.add_argument(
        "--recent", action="store_true", help="households created from calls in the last --days"
    )
    parser.add_argument(
        "--name",
        action="append",
        default=[],
        help="the caller's name, in any alphabet and order; again for the spouse they mention",
    )
    parser.add_argument("--email", default="", help="the caller's email")
    parser.add_argument("--address", default="", help="the caller's address")
    parser.add_argument("--limit", type=int, default=5, help="at most this many (default 5)")
    parser.add_argument(
        "--min-score",
        type=int,
        default=None,
        metavar="S",
        help=f"show scores of S or more, 0-100 (default {SHOW_THRESHOLD} for a caller, "
        f"{DEFAULT_THRESHOLD} with --households or --recent)",
    )
    parser.add_argument("--days", type=int, default=7, help="with --recent: how far back")
    parser.add_argument("--move", action="store_true", help="with accept: take the number over")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run_suggest(ctx: Context, args: argparse.Namespace) -> None:
    parser: argparse.ArgumentParser = args.parser
    words: list[str] = args.words
    if args.min_score is None:
        args.min_score = DEFAULT_THRESHOLD if args.households or args.recent else SHOW_THRESHOLD
    if not 0 <= args.min_score <= 100:
        raise InvalidInput(f"--min-score must be between 0 and 100, not {args.min_score}")
    if words[:1] == ["accept"]:
        if len(words) != 3 or args.households or args.recent:
            parser.error("usage: callkeeper suggest accept NUMBER HOUSEHOLD [--move]")
        run_accept(ctx, words[1], words[2], move=args.move)
    elif args.households or args.recent:
        if words:
            parser.error("--households and --recent take no NUMBER")
        (run_pairs if args.households else run_recent)(ctx, args)
    elif len(words) == 1:
        run_for_caller(ctx, args, words[0])
    else:
        parser.error("give one NUMBER, --households, --recent, or accept NUMBER HOUSEHOLD")


def run_for_caller(ctx: Context, args: argparse.Namespace, raw: str) -> None:
    number = normalize(raw, ctx.region)
    if number.is_anonymous and not (any(n.strip() for n in args.name) or args.email or args.address):
        raise InvalidInput(f"{raw!r} is no phone number: give --name, --email or --address")
    with ctx.db.reader() as s:
        index = suggestions.load_index(s)
        found = suggestions.suggest_for_caller(
            s,
            index,
            number.key,
            name=args.name,
            email=args.email,
            address=args.address,
            limit=args.limit,
            min_score=args.min_score,
        )
    automatic = ctx.settings.suggest_auto_threshold
    if args.json:
        print_json([_suggestion_json(f, automatic) for f in found])
    elif not found:
        print(f"no household scores {args.min_score} or more for {number}")
    else:
        print_table(
            [
                [f.household, f.score, _percent(confidence(f.score)), "yes" if f.score >= automatic else "",
                 f.owner, "; ".join(f.reasons)]
                for f in found
            ],
            ["HOUSEHOLD", "SCORE", "CONFIDENCE", "AUTO", "OWNER", "REASONS"],
        )  # fmt: skip


def run_pairs(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        pairs = suggestions.household_pairs(suggestions.load_index(s), args.min_score)
    if args.json:
        print_json([_pair_json(p) for p in pairs])
    elif not pairs:
        print(f"no two households score {args.min_score} or more")
    else:
        print_table(
            [[f"{p.first} + {p.second}", p.score, "; ".join(p.reasons)] for p in pairs],
            ["HOUSEHOLDS", "SCORE", "REASONS"],
        )


def run_recent(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        index = suggestions.load_index(s)
        found = suggestions.recent(s, index, args.days, min_score=args.min_score)
    if args.json:
        print_json(
            [
                {
                    "household": r.household.id,
                    "created_at": r.created_at.isoformat(timespec="seconds"),
                    "numbers": list(r.household.numbers),
                    "members": list(r.household.members),
                    "match": _suggestion_json(r.match, ctx.settings.suggest_auto_threshold)
                    if r.match
                    else None,
                }
                for r in found
            ]
        )
    elif not found:
        print(f"no household was created from a call in the last {args.days} days")
    else:
        print_table(
            [
                [
                    r.household.id,
                    r.created_at.isoformat(timespec="minutes"),
                    ", ".join(r.household.numbers),
                    r.match.household if r.match else None,
                    r.match.score if r.match else None,
                    "; ".join(r.match.reasons) if r.match else None,
                ]
                for r in found
            ],
            ["HOUSEHOLD", "CREATED", "NUMBERS", "MATCH", "SCORE", "REASONS"],
        )


def run_accept(ctx: Context, raw_number: str, raw_household: str, *, move: bool) -> None:
    number = household_reads.parse_number(raw_number, ctx.region)
    with ctx.db.unit_of_work() as s:
        household_id = household_reads.resolve(s, raw_household, ctx.region).id
        suggestions.accept(s, number.key, household_id, actor=ctx.actor, move=move)
    print(f"{number.key} linked to household {household_id}")


def _suggestion_json(found: Suggestion, automatic: int) -> dict[str, Any]:
    return {
        "household": found.household,
        "score": found.score,
        "confidence": confidence(found.score),
        "automatic": found.score >= automatic,
        "owner": found.owner,
        "reasons": list(found.reasons),
    }


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share:.0%}"


def _pair_json(pair: Pair) -> dict[str, Any]:
    return {"households": [pair.first, pair.second], "score": pair.score, "reasons": list(pair.reasons)}
