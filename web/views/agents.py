"""The agents board: every agent's live state, calls today and owner hit rate, refreshed by htmx polling;
a supervisor pauses and resumes. The states are read on every refresh; today's counts are shared by all
viewers and recounted off the request path every two seconds (`web.board_counts`).

An admin also disables and enables agents, and hands a leaving agent's
families over through a dialog that shows the dry run's table before applying.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from router.accounts.roles import Right
from router.directory import handover, offices
from router.errors import Conflict
from router.routing import agent_board
from router.storage.db import utcnow
from router.storage.models import DISABLED, Household
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


class DisableView(View):
    def post(self, page: Page) -> Response:
        page.require(Right.MANAGE_AGENTS)
        with page.console.db.unit_of_work() as s:
            offices.disable_agent(s, page.path("login"), actor=page.actor, reason=page.field("reason"))
        return see_other("/agents")


class EnableView(View):
    def post(self, page: Page) -> Response:
        page.require(Right.MANAGE_AGENTS)
        with page.console.db.unit_of_work() as s:
            offices.enable_agent(s, page.path("login"), actor=page.actor, reason=page.field("reason"))
        return see_other("/agents")


class HandoverView(View):
    """The handover dialog: the dry run's table first (GET), then the same plan applied (POST).

    The form carries a digest of the plan it showed; if the families changed
    in between, the POST is refused (409) instead of applying a plan nobody saw.
    """

    def get(self, page: Page) -> Response:
        page.require(Right.MANAGE_AGENTS)
        return self._dialog(page, page.query)

    def post(self, page: Page) -> Response:
        page.require(Right.MANAGE_AGENTS)
        leaving = page.path("login")
        with page.console.db.unit_of_work() as s:
            plan = _plan(s, leaving, page.field)
            if plan is None or plan_digest(plan) != page.field("plan"):
                raise Conflict(
                    page.gettext("The families changed since the dry run. Look at the plan again.")
                )
            handover.apply_handover(s, plan, reason=page.field("reason"), actor=page.actor)
        page.console.leads.refresh(move.household_id for move in plan.moves)
        return see_other("/agents")

    def _dialog(self, page: Page, value: Callable[[str], str]) -> Response:
        leaving = page.path("login")
        with page.console.db.reader() as s:
            agent = offices.get_agent(s, leaving)
            plan = _plan(s, leaving, value)
            agents = [a for a in offices.list_agents(s) if a.login != leaving and a.state != DISABLED]
            codes = [o.code for o in offices.list_offices(s)]
            owned = s.scalar(
                select(func.count()).select_from(Household).where(Household.owner_id == agent.id)
            )
        return page.render(
            "handover.html",
            leaving=leaving,
            owned=owned or 0,
            agents=agents,
            offices=codes,
            rules=handover.RULES,
            choice={k: value(k) for k in ("to", "office", "rule")},
            plan=plan,
            digest=plan_digest(plan) if plan is not None else "",
        )


def _plan(session: Session, leaving: str, value: Callable[[str], str]) -> handover.HandoverPlan | None:
    """The plan the form asks for, or None before a recipient or an office is chosen."""
    to, office = value("to") or None, value("office") or None
    if to is None and office is None:
        return None
    return handover.plan_handover(
        session, leaving, to=to, office=None if to else office, rule=value("rule") or "fewest"
    )


def plan_digest(plan: handover.HandoverPlan) -> str:
    return hashlib.sha256(repr((plan.moves, plan.backups)).encode()).hexdigest()[:32]


def _board(page: Page) -> list[agent_board.AgentOnBoard]:
    with page.console.db.reader() as s:
        return page.console.board_counts.board(s, now=utcnow(), zone=page.console.zone)
