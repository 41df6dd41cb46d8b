"""Login and logout; the login form has its own CSRF token (a cookie and a field): no session yet."""

from __future__ import annotations

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from router.accounts import sessions
from router.accounts.sessions import LoggedIn, LoginThrottled
from router.storage.db import utcnow
from web import auth
from web.views.base import Page, View, see_other


class LoginView(View):
    public = True

    async def get(self, request: Request) -> Response:
        return self.form(request, "", 200)

    async def post(self, request: Request) -> Response:
        form = await request.form()
        login, password = str(form.get("login", "")), str(form.get("password", ""))
        expected = request.cookies.get(auth.LOGIN_COOKIE, "")
        given = str(form.get(auth.CSRF_FIELD, ""))
        if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
            return self.form(request, self.console.gettext("The form has expired. Please log in again."), 403)
        previous = request.cookies.get(auth.SESSION_COOKIE, "")
        try:
            logged_in = await run_in_threadpool(
                self.log_in, login, password, auth.client_address(request), previous
            )
        except LoginThrottled:
            message = self.console.gettext("Too many failed logins. Wait a few minutes and try again.")
            return self.form(request, message, 429)
        if logged_in is None:
            return self.form(request, self.console.gettext("Wrong login or password."), 401, login=login)
        response = see_other(_safe_next(request.query_params.get("next", "")))
        auth.set_session_cookie(self.console, response, logged_in.token)
        response.delete_cookie(auth.LOGIN_COOKIE, path="/login")
        return response

    def log_in(self, login: str, password: str, address: str, previous: str) -> LoggedIn | None:
        """A new session (never the one the browser brought, which a good login ends)."""
        with self.console.db.unit_of_work() as s:
            logged_in = sessions.log_in(
                s, login, password, address=address, now=utcnow(), policy=self.console.policy
            )
            if logged_in is not None and previous:
                sessions.log_out(s, previous)
            return logged_in

    def form(self, request: Request, error: str, status: int, login: str = "") -> HTMLResponse:
        token = auth.new_login_token()
        body = self.console.render(
            "login.html",
            user=None,
            csrf="",
            path="/login",
            may=lambda _right: False,
            login_token=token,
            error=error,
            login=login,
            next=_safe_next(request.query_params.get("next", "")),
        )
        response = HTMLResponse(body, status_code=status)
        auth.set_login_cookie(self.console, response, token)
        return response


class LogoutView(View):
    def post(self, page: Page) -> Response:
        with page.console.db.unit_of_work() as s:
            sessions.log_out(s, page.request.cookies.get(auth.SESSION_COOKIE, ""))
        response = see_other("/login")
        auth.clear_session_cookie(page.console, response)
        return response


def _safe_next(target: str) -> str:
    """Only a path of this site: `next` must not send a user elsewhere after login."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/search"
