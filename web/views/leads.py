"""The leads list (filterable) and the provisional matches a supervisor or admin confirms or rejects."""

from __future__ import annotations

from starlette.responses import Response

from router.accounts.roles import Right
from router.errors import InvalidInput
from router.leads import store
from web.views.base import Page, View, see_other

LIMIT = 200


class LeadsView(View):
    def get(self, page: Page) -> Response:
        page.require(Right.SEE_LEADS)
        filters = {k: page.query(k) for k in ("status", "source", "agent", "household")}
        household = filters["household"]
        if household and not household.isdigit():
            raise InvalidInput(page.gettext("The card number is a whole number."))
        with page.console.db.reader() as s:
            rows = store.list_leads(
                s,
                provisional=filters["status"] == "provisional",
                source=filters["source"] or None,
                agent=filters["agent"] or None,
                household=int(household) if household else None,
                limit=LIMIT,
            )
            waiting = store.list_leads(s, provisional=True, limit=LIMIT)
        return page.render("leads.html", rows=rows, waiting=waiting, filters=filters, limit=LIMIT)


class ConfirmView(View):
    def post(self, page: Page) -> Response:
        page.require(Right.CONFIRM_LEADS)
        lead_id = int(page.path("lead"))
        with page.console.db.unit_of_work() as s:
            done = store.confirm(s, lead_id, actor=page.actor)
        page.console.leads.refresh([done.household])
        return see_other("/leads")


class RejectView(View):
    def post(self, page: Page) -> Response:
        page.require(Right.CONFIRM_LEADS)
        lead_id = int(page.path("lead"))
        with page.console.db.unit_of_work() as s:
            done = store.reject(s, lead_id, actor=page.actor, settings=page.console.settings)
        page.console.leads.refresh([done.household])
        return see_other("/leads")
