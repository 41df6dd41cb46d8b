"""The agents board: every agent's state, refreshed by htmx polling; a supervisor pauses and resumes."""

from __future__ import annotations

from starlette.responses import Response

from router.accounts.roles import Right
from router.directory import offices
from web.views.base import Page, View, see_other

# How often the board asks for its rows again, in seconds (the `hx-trigger` of the table).
REFRESH_SECONDS = 3


class BoardView(View):
    def get(self, page: Page) -> Response:
        page.require(Right.SEE_AGENTS)
        with page.console.db.reader() as s:
            agents = offices.list_agents(s)
        template = "agents_rows.html" if page.htmx else "agents.html"
        return page.render(template, agents=agents, refresh=REFRESH_SECONDS)


class StateView(View):
    def post(self, page: Page) -> Response:
        page.require(Right.SET_AGENT_STATE)
        with page.console.db.unit_of_work() as s:
            offices.set_agent_state(s, page.path("login"), page.field("state"))
        if page.htmx:
            with page.console.db.reader() as s:
                agents = offices.list_agents(s)
            return page.render("agents_rows.html", agents=agents, refresh=REFRESH_SECONDS)
        return see_other("/agents")
