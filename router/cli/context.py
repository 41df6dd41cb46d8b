"""What every command gets: settings, the database, the actor, and output helpers."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from router import config
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
        """The database, with an empty one brought to the current schema."""
        database = Database(self.settings.db)
        database.ensure_schema()
        return database

    @property
    def region(self) -> str:
        return self.settings.region

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()


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


def iso_time(text: str) -> datetime:
    """An ISO 8601 date or time from the command line; without a zone it is UTC."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date or time") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
