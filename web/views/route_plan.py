"""Why would a call go there: the plan the router would make now, as `callkeeper route` shows it."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from router.accounts.roles import Right
from router.directory import household_reads
from router.errors import CallkeeperError
from router.routing.service import Router
from web.views.base import Page, View, describe


class RoutePlanView(View):
    def get(self, page: Page) -> Response:
        page.require(Right.EXPLAIN_ROUTE)
        number, line = page.query("number"), page.query("line")
        context: dict[str, Any] = {
            "number": number,
            "line": line,
            "decision": None,
            "plan": None,
            "error": "",
        }
        if number:
            try:
                # A number the admin typed is refused unless it is one (`123` is no caller's number).
                caller = household_reads.parse_number(number, page.console.settings.region).key
                decision, plan = Router(page.console.db, page.console.settings).explain(caller, line or None)
                context.update(decision=decision, plan=plan)
            except CallkeeperError as refused:
                context["error"] = describe(page.console, refused)[1]
        return page.render("route.html", **context)
