"""A period filter as the console's pages take it: two days in the agency's zone, the second one included."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from web import typed
from web.views.base import Page


def day(page: Page, name: str) -> date | None:
    text = page.query(name)
    if not text:
        return None
    return typed.day(text)


def period(page: Page) -> tuple[datetime | None, datetime | None]:
    """[since, until) as aware moments: from midnight of `since` to the midnight after `until`."""
    since, until = day(page, "since"), day(page, "until")
    formats = page.console.formats
    return (
        formats.day_start(since) if since else None,
        formats.day_start(until + timedelta(days=1)) if until else None,
    )
