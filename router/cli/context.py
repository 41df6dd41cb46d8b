"""What every command gets: settings, the database, the actor, and output helpers."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from router import config, dates
from router.directory import household_reads
from router.directory.audit import default_actor
from router.storage.db import Database


class Context:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.settings = config.load(
            getattr(args, "config", None),
            overrides={"db": getattr(args, "db", None)},
        )
        self.actor: str = getattr(args, "actor", None) or default_actor()

    @cached_property
    def db(self) -> Database:
        """The database, with an empty one brought to the current schema.

        Only `db upgrade` (and `serve`, `demo`) create a SQLite file: here a
        missing one is a mistyped path, exit 6.
        """
        database = Database(self.settings.db, create=False)
        database.ensure_schema()
        return database

    @property
    def region(self) -> str:
        return self.settings.region

    @cached_property
    def zone(self) -> ZoneInfo:
        """The agency's time zone (the `timezone` setting)."""
        return config.agency_zone(self.settings)

    def when(self, text: str | None) -> datetime | None:
        """A --since or --until as typed (checked by `time_option`), as UTC; None if not given."""
        return None if text is None else dates.parse(text, self.zone, datetime.now(UTC))

    def household(self, session: Session, ref: str | None) -> int | None:
        """A --household as typed: an id (merged away too) or any of its numbers; else NotFound (exit 3)."""
        return None if ref is None else household_reads.resolve_id(session, ref, self.region)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()


def time_option(text: str) -> str:
    """argparse type of --since and --until: refused at once (exit 2) unless `dates` can read it."""
    try:
        return dates.check(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def print_table(rows: list[list[Any]], header: list[str]) -> None:
    """A plain aligned table; empty cells print as '-'."""
    cells = [[("-" if c in (None, "") else str(c)) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def time_window(parser: argparse.ArgumentParser) -> None:
    """--since and --until, read by the one parser (`router.dates`)."""
    words = "an ISO date or time (UTC if no zone), or today or yesterday (the agency's day)"
    parser.add_argument("--since", type=time_option, metavar="T", help=f"from T: {words}")
    parser.add_argument("--until", type=time_option, metavar="T", help=f"before T: {words}")


def household_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--household", metavar="ID|NUMBER", help=f"{help_text}: its id or any of its numbers")
