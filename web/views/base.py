"""The small base every page stands on: a method per HTTP verb (405 otherwise), login, CSRF, errors.

A page is a `View` subclass with `get` and/or `post`; each handler gets a
`Page` and its first line is the permission check (`page.require(...)`),
then it calls one router function and renders one template. Handlers are
plain functions run in a worker thread: the router's database code is
synchronous. What goes wrong becomes an error page in the console's language,
never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote

from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from router.accounts.roles import Right, allows, may_see_household
from router.accounts.users import UserView
from router.errors import CallkeeperError, Conflict, DatabaseUnavailable, InvalidInput, NotFound
from web import auth
from web.console import Console

log = logging.getLogger(__name__)

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
# The largest uploaded file a form may carry (a bookings CSV of some 100,000 rows); one byte
# more is read, so that a larger file is refused instead of cut.
MAX_UPLOAD_BYTES = 16 * 1024 * 1024


class Forbidden(Exception):
    """The user may not do this, or may not see this object."""


@dataclass
class Page:
    """One request as a handler sees it: who asks, what they sent, and how to answer."""

    console: Console
    request: Request
    user: UserView
    csrf: str
    form: Mapping[str, str] = field(default_factory=dict)
    # Uploaded files of a multipart form, by field name (a bookings CSV).
    files: Mapping[str, bytes] = field(default_factory=dict)

    def require(self, right: Right) -> None:
        if not allows(self.user.role, right):
            raise Forbidden(right.value)

    def require_household(self, owner: str | None, co_owners: Sequence[str] = ()) -> None:
        """The object check: a manager who types another family's URL gets 403 (a co-owner sees it)."""
        if not may_see_household(self.user.role, self.user.agent, owner, co_owners):
            raise Forbidden("household")

    def may(self, right: Right) -> bool:
        return allows(self.user.role, right)

    @property
    def actor(self) -> str:
        """Who the audit names for a change made here: the console user's login."""
        return self.user.login

    @property
    def htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true" and not self.request.headers.get("hx-boosted")

    def query(self, name: str) -> str:
        return self.request.query_params.get(name, "").strip()

    def field(self, name: str) -> str:
        return str(self.form.get(name, "")).strip()

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        body = self.console.render(
            template, user=self.user, csrf=self.csrf, path=self.request.url.path, may=self.may, **context
        )
        return HTMLResponse(body, status_code=status)

    def gettext(self, message: str, **values: Any) -> str:
        return self.console.gettext(message, **values)


def see_other(url: str) -> RedirectResponse:
    """After a POST: 303, so a reload does not post again."""
    return RedirectResponse(url, status_code=303)


Handler = Callable[[Page], Response]


class View:
    """One page. Subclasses define `get(page)` and/or `post(page)`."""

    public: ClassVar[bool] = False

    def __init__(self, console: Console) -> None:
        self.console = console

    async def dispatch(self, request: Request) -> Response:
        verb = "get" if request.method == "HEAD" else request.method.lower()
        handler: Handler | None = getattr(self, verb, None)
        if handler is None:
            allowed = ", ".join(v.upper() for v in ("get", "post") if hasattr(self, v))
            response = error_page(
                self.console, None, 405, self.console.gettext("This page does not do that.")
            )
            response.headers["Allow"] = allowed
            return response
        if self.public:
            return await self.public_dispatch(request, getattr(self, verb))
        try:
            logged_in = await run_in_threadpool(auth.current, self.console, request)
        except (CallkeeperError, OperationalError, DBAPIError) as exc:
            return self.failure(None, exc)
        if logged_in is None:
            return _to_login(request)
        form: dict[str, str] = {}
        files: dict[str, bytes] = {}
        if verb != "get":
            sent = await request.form()
            form = {k: v for k, v in sent.items() if isinstance(v, str)}
            files = {
                k: await v.read(MAX_UPLOAD_BYTES + 1) for k, v in sent.items() if isinstance(v, UploadFile)
            }
            if not auth.csrf_ok(logged_in.csrf, request, form.get(auth.CSRF_FIELD)):
                return error_page(
                    self.console,
                    logged_in.user,
                    403,
                    self.console.gettext("The form has expired. Open the page again and repeat."),
                    csrf=logged_in.csrf,
                )
        page = Page(self.console, request, logged_in.user, logged_in.csrf, form, files)
        try:
            return await run_in_threadpool(handler, page)
        except Exception as exc:
            return self.failure(page, exc)

    async def public_dispatch(self, request: Request, handler: Callable[[Request], Any]) -> Response:
        try:
            response: Response = await handler(request)
            return response
        except Exception as exc:
            return self.failure(None, exc)

    def failure(self, page: Page | None, exc: Exception) -> Response:
        user, csrf = (page.user, page.csrf) if page else (None, "")
        status, message = describe(self.console, exc)
        if status >= 500:
            log.error("console: %s %s", type(exc).__name__, exc, exc_info=status == 500)
        return error_page(self.console, user, status, message, csrf=csrf, back=_unfiltered(page, status))


def describe(console: Console, exc: Exception) -> tuple[int, str]:
    """The status and the line a user reads for an error; the router's own words as the detail."""
    if isinstance(exc, Forbidden):
        return 403, console.gettext("You do not have access to this.")
    if isinstance(exc, NotFound):
        return 404, console.gettext("Not found: %(detail)s", detail=console.error_text(exc))
    if isinstance(exc, Conflict):
        return 409, console.gettext("Refused: %(detail)s", detail=console.error_text(exc))
    if isinstance(exc, InvalidInput):
        return 422, console.gettext("Check the input: %(detail)s", detail=console.error_text(exc))
    if isinstance(exc, DataError):
        # PostgreSQL refuses a text longer than its column (SQLite stores it): the input is at fault,
        # and a user told "the database does not answer" would only try again.
        return 422, console.gettext("Check the input: a text is too long. Shorten it and repeat.")
    if isinstance(exc, DatabaseUnavailable | OperationalError | DBAPIError):
        return 503, console.gettext("The database does not answer. Try again in a minute.")
    return 500, console.gettext("Something went wrong on the server. The error is in the log.")


def error_page(
    console: Console, user: UserView | None, status: int, message: str, *, csrf: str = "", back: str = ""
) -> HTMLResponse:
    body = console.render(
        "error.html", user=user, csrf=csrf, path="", may=_nothing, status=status, message=message, back=back
    )
    return HTMLResponse(body, status_code=status)


def _unfiltered(page: Page | None, status: int) -> str:
    """A page refused for what its filter says (a card № `abc`) is a way back: the page unfiltered."""
    if (
        page is None
        or status != 422
        or page.request.method not in ("GET", "HEAD")
        or not page.request.url.query
    ):
        return ""
    return page.request.url.path


def _nothing(_right: Right) -> bool:
    return False


def _to_login(request: Request) -> Response:
    target = "/login?next=" + quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
