"""The suggestions queue: families that look like one another, and leads waiting for a person.

A family a call created that looks like an existing one, or two existing
families that look like one: accepting merges them (through the merge page,
which shows what moves and asks to confirm); rejecting is remembered by the
router, so that pair is never offered again. A lead matched to a family only
provisionally is confirmed (its number linked there) or rejected (it gets a
family of its own).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from router.accounts.roles import Right
from router.directory import household_reads, suggestions
from router.errors import InvalidInput
from router.leads import store
from web.views.base import Page, View, see_other
from web.words import N_

# How far back the queue looks for families created by calls.
RECENT_DAYS = 30

DONE = {
    "rejected": N_("Not one family: this pair will not be offered again."),
    "confirmed": N_("The lead is confirmed: its number is linked to the family."),
    "lead-rejected": N_("The lead got a family of its own."),
}


def queue_context(page: Page) -> dict[str, Any]:
    with page.console.db.reader() as s:
        queued = page.console.suggestions.queue(s, days=RECENT_DAYS)
        ids = sorted({h for q in queued for h in q.pair})
        names = {h.id: h for h in household_reads.households_by_id(s, ids)}
        leads = store.list_leads(s, provisional=True)
    return {"queued": queued, "families": names, "leads": leads, "days": RECENT_DAYS}


class QueueView(View):
    def get(self, page: Page) -> Response:
        page.require(Right.HANDLE_SUGGESTIONS)
        done = DONE.get(page.query("done"))
        return page.render("suggestions.html", done=page.gettext(done) if done else "", **queue_context(page))


def _id(page: Page, name: str) -> int:
    text = page.field(name)
    if not text.isdigit():
        raise InvalidInput(page.gettext("give the number of the family's card"))
    return int(text)


class RejectView(View):
    """POST `keep`, `other` and an optional `reason`: the two are not one family."""

    def post(self, page: Page) -> Response:
        page.require(Right.HANDLE_SUGGESTIONS)
        keep, other = _id(page, "keep"), _id(page, "other")
        with page.console.db.unit_of_work() as s:
            for household in (keep, other):
                household_reads.get_household(s, household)
            suggestions.reject(s, keep, other, actor=page.actor, reason=page.field("reason"))
        back = page.field("back")
        return see_other(back if back.startswith("/households/") else "/suggestions?done=rejected")


class LeadConfirmView(View):
    def post(self, page: Page) -> Response:
        page.require(Right.HANDLE_SUGGESTIONS)
        with page.console.db.unit_of_work() as s:
            lead = store.confirm(s, int(page.path("lead")), actor=page.actor)
        if lead.household is not None:
            with page.console.db.reader() as s:
                page.console.suggestions.refresh(s, lead.household)
        return see_other("/suggestions?done=confirmed")


class LeadRejectView(View):
    def post(self, page: Page) -> Response:
        page.require(Right.HANDLE_SUGGESTIONS)
        with page.console.db.unit_of_work() as s:
            lead = store.reject(s, int(page.path("lead")), actor=page.actor, settings=page.console.settings)
        if lead.household is not None:
            with page.console.db.reader() as s:
                page.console.suggestions.refresh(s, lead.household)
        return see_other("/suggestions?done=lead-rejected")
