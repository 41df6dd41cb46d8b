"""The console's session cookie and CSRF token, over `router.accounts.sessions`.

The cookie holds only a random token; the session itself is a database row,
so a logout or a disabled user ends it in every process. Every state-changing
request carries the session's CSRF token (a form field, or the
`X-CSRF-Token` header htmx sends from `hx-headers` on `<body>`).
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from router.accounts import sessions
from router.accounts.sessions import LoggedIn
from router.storage.db import utcnow
from web.console import Console

SESSION_COOKIE = "ck_session"
LOGIN_COOKIE = "ck_login"  # the login form's own CSRF token (double submit), before any session
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


def current(console: Console, request: Request) -> LoggedIn | None:
    """The logged-in user of a request; the session row is written only when its clock is due."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    now = utcnow()
    with console.db.reader() as s:
        logged_in, must_write = sessions.check(s, token, now=now, policy=console.policy)
    if not must_write:
        return logged_in
    with console.db.unit_of_work() as s:
        return sessions.resume(s, token, now=now, policy=console.policy)


def csrf_ok(expected: str, request: Request, form_value: str | None) -> bool:
    given = request.headers.get(CSRF_HEADER) or form_value or ""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def set_session_cookie(console: Console, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(console.policy.absolute.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=console.settings.web_tls,
        path="/",
    )


def clear_session_cookie(console: Console, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=console.settings.web_tls
    )


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def set_login_cookie(console: Console, response: Response, token: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=console.settings.web_tls, path="/login"
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
