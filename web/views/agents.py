"""The agents board: every agent's live state, calls today and owner hit rate, refreshed by htmx polling;
a supervisor pauses and resumes. The states are read on every refresh; today's counts are shared by all
viewers for two seconds (`web.board_counts`)."""

from __future__ import annotations

from starlette.responses import Response

from router.accounts.roles import Right
from router.directory import offices
from router.routing import agent_board
from router.storage.db import utcnow
from web.views.base import Page, View, see_other

# How often the board asks for its rows again, in seconds (the `hx-trigger` of the table).
REFRESH_SECONDS = 3


class BoardView(View):
    def get(self, page: Page) -> Response:
        page.require(Right.SEE_AGENTS)
        template = "agents_rows.html" if page.htmx else "agents.html"
        return page.render(template, agents=_board(page), refresh=REFRESH_SECONDS)


class StateView(View):
    def post(self, page: Page) -> Response:
        page.require(Right.SET_AGENT_STATE)
        with page.console.db.unit_of_work() as s:
            offices.set_agent_state(s, page.path("login"), page.field("state"))
        if page.htmx:
            return page.render("agents_rows.html", agents=_board(page), refresh=REFRESH_SECONDS)
        return see_other("/agents")


def _board(page: Page) -> list[agent_board.AgentOnBoard]:
    with page.console.db.reader() as s:
        return page.console.board_counts.board(s, now=utcnow(), zone=page.console.zone)
