"""Bookings and their splits: the list with filters, a booking added by hand, a CSV imported, an override.

Each booking shows the split its policy proposes with the calls it rests on,
or the override that replaced it (who, when, why). An override is given as
`LOGIN=PERCENT` lines; the router refuses one whose shares do not total
exactly 100 % and cuts the amount to the kopeck (its parts always sum to
the booking's amount). Every change is one router call in one unit of work,
audited with the console user as the actor, and shows on the family's timeline.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.responses import Response

from router.accounts.roles import Right
from router.errors import CallkeeperError, InvalidInput
from router.splits import bookings, split_report
from router.splits.shares import POLICIES, parse_amount, parse_override
from web import typed
from web.views.base import MAX_UPLOAD_BYTES, Page, View, describe, see_other
from web.views.periods import period
from web.words import N_

DONE = {
    "added": N_("The booking is added."),
    "imported": N_("The bookings of the file are imported."),
    "overridden": N_("The split is overridden; the family's timeline shows it."),
}


def _policy(page: Page) -> str:
    policy = page.query("policy") or POLICIES[0]
    if policy not in POLICIES:
        raise InvalidInput(page.gettext("choose a split policy from the list"))
    return policy


def _household_filter(page: Page) -> int | None:
    text = page.query("household")
    if text and not text.isdigit():
        raise InvalidInput(page.gettext("the family is given by its card number"))
    return int(text) if text else None


def list_context(page: Page) -> dict[str, Any]:
    policy = _policy(page)
    since, until = period(page)
    with page.console.db.reader() as s:
        found = bookings.list_bookings(s, household=_household_filter(page), since=since, until=until)
        splits = split_report.report(
            s, [b.for_report() for b in found], policy=policy, region=page.console.settings.region
        )
    return {
        "rows": list(zip(found, splits, strict=True)),
        "policies": POLICIES,
        "filters": {k: page.query(k) for k in ("household", "since", "until")} | {"policy": policy},
    }


def render_list(page: Page, *, status: int = 200, **extra: Any) -> Response:
    done = DONE.get(page.query("done"))
    context = list_context(page) | {"done": page.gettext(done) if done else "", "error": "", "form": {}}
    return page.render("bookings.html", status=status, **(context | extra))


class BookingsView(View):
    """GET lists; POST adds one booking by hand."""

    def get(self, page: Page) -> Response:
        page.require(Right.SEE_EVIDENCE)
        return render_list(page)

    def post(self, page: Page) -> Response:
        page.require(Right.EDIT_SPLITS)
        try:
            household = page.field("household")
            if not household.isdigit():
                raise InvalidInput(page.gettext("the family is given by its card number"))
            with page.console.db.unit_of_work() as s:
                bookings.add_booking(
                    s,
                    int(household),
                    ref=page.field("ref"),
                    amount=parse_amount(typed.amount(page.field("amount"))),
                    closed_at=_moment(page, page.field("closed_at")),
                    note=page.field("note"),
                    actor=page.actor,
                )
        except CallkeeperError as refused:
            status, message = describe(page.console, refused)
            return render_list(page, status=status, error=message, form=dict(page.form))
        return see_other("/bookings?done=added")


class ImportView(View):
    """POST a bookings CSV (the `splits --bookings` columns): every row stored, or none."""

    def post(self, page: Page) -> Response:
        page.require(Right.EDIT_SPLITS)
        data = page.files.get("file", b"")
        try:
            if not data:
                raise InvalidInput(page.gettext("choose a CSV file to import"))
            if len(data) > MAX_UPLOAD_BYTES:
                raise InvalidInput(
                    page.gettext("the file is larger than %(mb)s MB", mb=MAX_UPLOAD_BYTES >> 20)
                )
            _import(page, data)
        except CallkeeperError as refused:
            status, message = describe(page.console, refused)
            return render_list(page, status=status, error=message)
        return see_other("/bookings?done=imported")


def _import(page: Page, data: bytes) -> None:
    """The router imports from a file: the upload is one, for as long as the import takes.
    Its errors name the file as the user chose it, not the temporary path, in the console's words."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bookings.csv"
        path.write_bytes(data)
        try:
            with page.console.db.unit_of_work() as s:
                bookings.import_bookings(s, path, region=page.console.settings.region, actor=page.actor)
        except CallkeeperError as refused:
            said = str(refused).replace(str(path), "CSV")
            raise type(refused)(page.console.import_words.text(said)) from None


def _booking(page: Page) -> bookings.BookingView:
    with page.console.db.reader() as s:
        return bookings.get_booking(s, int(page.path("booking")))


def render_booking(page: Page, *, status: int = 200, **extra: Any) -> Response:
    booking = _booking(page)
    policy = _policy(page)
    with page.console.db.reader() as s:
        [split] = split_report.report(
            s, [booking.for_report()], policy=policy, region=page.console.settings.region
        )
    done = DONE.get(page.query("done"))
    context = {
        "booking": booking,
        "split": split,
        "policies": POLICIES,
        "policy": policy,
        "done": page.gettext(done) if done else "",
        "error": "",
        "form": {},
    }
    return page.render("booking.html", status=status, **(context | extra))


class BookingView(View):
    def get(self, page: Page) -> Response:
        page.require(Right.SEE_EVIDENCE)
        return render_booking(page)


class OverrideView(View):
    """POST `shares` (LOGIN=PERCENT, one a line or comma-separated) and a `reason`."""

    def post(self, page: Page) -> Response:
        page.require(Right.EDIT_SPLITS)
        booking = _booking(page)
        try:
            shares = parse_override(typed.shares(page.field("shares")))
            with page.console.db.unit_of_work() as s:
                split_report.save_override(
                    s,
                    booking.ref,
                    shares,
                    reason=page.field("reason"),
                    actor=page.actor,
                    region=page.console.settings.region,
                )
        except CallkeeperError as refused:
            status, message = describe(page.console, refused)
            return render_booking(page, status=status, error=message, form=dict(page.form))
        return see_other(f"/bookings/{booking.id}?done=overridden")


def _moment(page: Page, text: str) -> datetime:
    """A `datetime-local` field (`2026-12-05T14:30`, or `05.12.2026 14:30`), in the agency's zone."""
    return typed.moment(text).replace(tzinfo=page.console.formats.zone)
