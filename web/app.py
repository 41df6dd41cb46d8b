"""The console as an ASGI application: its routes, security headers, error pages and lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from router.config import Settings
from web.api_leads import PATH as LEADS_API
from web.api_leads import LeadsApi
from web.console import HERE, Console
from web.views import (
    agents,
    audit_log,
    base,
    disputes,
    evidence,
    household,
    leads,
    login,
    route_plan,
    search,
    splits,
    suggestions_queue,
    users,
)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """CSP without inline scripts, no framing, no sniffing; pages are not cached (they show live data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def routes(console: Console) -> list[BaseRoute]:
    def page(path: str, view: type[base.View]) -> Route:
        return Route(path, view(console).dispatch, methods=base.METHODS)

    return [
        Route(LEADS_API, LeadsApi(console).post, methods=["POST"]),
        Route("/", lambda _request: RedirectResponse("/search", status_code=303)),
        page("/login", login.LoginView),
        page("/logout", login.LogoutView),
        page("/search", search.SearchView),
        page("/households/{household:int}", household.CardView),
        page("/households/{household:int}/numbers", household.LinkView),
        page("/households/{household:int}/numbers/unlink", household.UnlinkView),
        page("/households/{household:int}/numbers/relabel", household.RelabelView),
        page("/households/{household:int}/members", household.MemberView),
        page("/households/{household:int}/owner", household.TransferView),
        page("/households/{household:int}/owners", household.OwnersView),
        page("/households/{household:int}/merge", household.MergeView),
        page("/households/{household:int}/exclusions", household.ExcludeView),
        page("/households/{household:int}/exclusions/remove", household.IncludeView),
        page("/households/{household:int}/timeline", evidence.TimelineView),
        page("/households/{household:int}/timeline.csv", evidence.TimelineCsvView),
        page("/bookings", splits.BookingsView),
        page("/bookings/import", splits.ImportView),
        page("/bookings/{booking:int}", splits.BookingView),
        page("/bookings/{booking:int}/override", splits.OverrideView),
        page("/suggestions", suggestions_queue.QueueView),
        page("/suggestions/reject", suggestions_queue.RejectView),
        page("/leads/{lead:int}/confirm", suggestions_queue.LeadConfirmView),
        page("/leads/{lead:int}/reject", suggestions_queue.LeadRejectView),
        page("/agents", agents.BoardView),
        page("/agents/{login}/state", agents.StateView),
        page("/agents/{login}/disable", agents.DisableView),
        page("/agents/{login}/enable", agents.EnableView),
        page("/agents/{login}/handover", agents.HandoverView),
        page("/route", route_plan.RoutePlanView),
        page("/leads", leads.LeadsView),
        page("/leads/{lead:int}/confirm", leads.ConfirmView),
        page("/leads/{lead:int}/reject", leads.RejectView),
        page("/audit", audit_log.AuditLogView),
        page("/disputes", disputes.DisputeListView),
        page("/disputes/{dispute:int}", disputes.DisputePageView),
        page("/users", users.UsersView),
        page("/users/{login}/disable", users.DisableView),
        page("/users/{login}/enable", users.EnableView),
        page("/users/{login}/password", users.PasswordView),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def create_app(settings: Settings) -> Starlette:
    console = Console(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        console.start()
        try:
            yield
        finally:
            console.close()

    async def http_error(_request: Request, exc: Any) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = {
            404: console.gettext("There is no such page."),
            405: console.gettext("This page does not do that."),
        }.get(status, console.gettext("Something went wrong on the server. The error is in the log."))
        return base.error_page(console, None, status, message)

    app = Starlette(
        routes=routes(console),
        lifespan=lifespan,
        exception_handlers={404: http_error, 405: http_error, 500: http_error},
    )
    app.add_middleware(SecurityHeaders)
    app.state.console = console
    return app
