"""Console users, for admins: who may log in, in which role, as which agent; add, disable, enable, password.

Each action is the one function of `router.accounts.users` the CLI's
`callkeeper user` calls, audited with the admin as the actor. A refusal
shows the page again with the refusal in words and the form as it was
filled in, passwords aside. An admin cannot disable their own login: the
console would lock out the one person who could undo it.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from router.accounts import users
from router.accounts.roles import Right
from router.directory import offices
from router.errors import CallkeeperError, InvalidInput
from router.storage.models import CONSOLE_ROLES
from web.views.base import Page, View, describe, see_other
from web.words import N_

# What the page says after each action (the `done` query parameter), through the catalog.
DONE = {
    "added": N_("The user is added and may log in."),
    "disabled": N_("The user is disabled; their open sessions are ended."),
    "enabled": N_("The user may log in again."),
    "password": N_("The password is set; the user's open sessions are ended."),
}


class UsersView(View):
    def get(self, page: Page) -> Response:
        page.require(Right.MANAGE_USERS)
        return render_users(page)

    def post(self, page: Page) -> Response:
        page.require(Right.MANAGE_USERS)
        try:
            password = _new_password(page)
            with page.console.db.unit_of_work() as s:
                users.add_user(
                    s,
                    page.field("login"),
                    role=page.field("role"),
                    password=password,
                    agent=page.field("agent") or None,
                    actor=page.actor,
                )
        except CallkeeperError as refused:
            return _refused(page, refused)
        return see_other("/users?done=added")


class DisableView(View):
    def post(self, page: Page) -> Response:
        page.require(Right.MANAGE_USERS)
        login = page.path("login")
        try:
            if login == page.user.login:
                raise InvalidInput(page.gettext("you cannot disable your own login"))
            with page.console.db.unit_of_work() as s:
                users.set_disabled(s, login, True, actor=page.actor)
        except CallkeeperError as refused:
            return _refused(page, refused)
        return see_other("/users?done=disabled")


class EnableView(View):
    def post(self, page: Page) -> Response:
        page.require(Right.MANAGE_USERS)
        try:
            with page.console.db.unit_of_work() as s:
                users.set_disabled(s, page.path("login"), False, actor=page.actor)
        except CallkeeperError as refused:
            return _refused(page, refused)
        return see_other("/users?done=enabled")


class PasswordView(View):
    def post(self, page: Page) -> Response:
        page.require(Right.MANAGE_USERS)
        try:
            password = _new_password(page)
            with page.console.db.unit_of_work() as s:
                users.set_password(s, page.path("login"), password, actor=page.actor)
        except CallkeeperError as refused:
            return _refused(page, refused)
        return see_other("/users?done=password")


def _new_password(page: Page) -> str:
    password = page.field("password")
    if password != page.field("password_again"):
        raise InvalidInput(page.gettext("the two passwords differ"))
    return password


def _refused(page: Page, refused: CallkeeperError) -> Response:
    status, message = describe(page.console, refused)
    typed = {k: v for k, v in page.form.items() if not k.startswith("password")}
    return render_users(page, status=status, error=message, form=typed)


def render_users(page: Page, *, status: int = 200, **extra: Any) -> Response:
    with page.console.db.reader() as s:
        rows = users.list_users(s)
        agents = offices.agent_logins(s)
    done = DONE.get(page.query("done"))
    context: dict[str, Any] = {
        "rows": rows,
        "agents": agents,
        "roles": CONSOLE_ROLES,
        "error": "",
        "form": {},
        "done": page.gettext(done) if done else "",
    } | extra
    return page.render("users.html", status=status, **context)
