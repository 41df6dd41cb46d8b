"""Console users: `callkeeper user add|disable|enable|list|password`."""

from __future__ import annotations

import argparse
import getpass
import sys
from functools import partial

from router.accounts import sessions, users
from router.cli.commands import Sub, action, group
from router.cli.context import Context, print_json, print_table
from router.errors import InvalidInput
from router.storage.models import CONSOLE_ROLES


def register(commands: Sub, common: argparse.ArgumentParser) -> None:
    text = "people who log in to the web console, and their roles"
    actions = group(commands, "user", text, common=common)
    add = partial(action, actions, common=common)

    p = add("add", "add a console user; asks for the password", run_user_add)
    p.add_argument("login")
    p.add_argument(
        "--role",
        required=True,
        choices=CONSOLE_ROLES,
        help="admin: everything; supervisor: families, evidence, agent states; "
        "manager: read-only, their own families",
    )
    p.add_argument("--agent", metavar="LOGIN", help="the agent this user is (a manager sees their families)")
    _password_source(p)
    p = add("disable", "stop a user logging in, and end their open sessions", run_user_disable)
    p.add_argument("login")
    p = add("enable", "let a disabled user log in again", run_user_enable)
    p.add_argument("login")
    p = add("password", "set a user's password (ends their open sessions)", run_user_password)
    p.add_argument("login")
    _password_source(p)
    p = add("list", "list console users", run_user_list)
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _password_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input instead of a prompt",
    )


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise InvalidInput("the two passwords differ")
    return first


def run_user_add(ctx: Context, args: argparse.Namespace) -> None:
    password = read_password(args)
    with ctx.db.unit_of_work() as s:
        view = users.add_user(
            s, args.login, role=args.role, password=password, agent=args.agent, actor=ctx.actor
        )
    print(f"user {view.login} added as {view.role}" + (f" (agent {view.agent})" if view.agent else ""))


def run_user_disable(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        users.set_disabled(s, args.login, True, actor=ctx.actor)
    print(f"user {args.login} is disabled; their sessions are ended")


def run_user_enable(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.unit_of_work() as s:
        users.set_disabled(s, args.login, False, actor=ctx.actor)
    print(f"user {args.login} is enabled")


def run_user_password(ctx: Context, args: argparse.Namespace) -> None:
    password = read_password(args)
    with ctx.db.unit_of_work() as s:
        users.set_password(s, args.login, password, actor=ctx.actor)
    print(f"user {args.login}: password changed; their sessions are ended")


def run_user_list(ctx: Context, args: argparse.Namespace) -> None:
    with ctx.db.reader() as s:
        listed = [(u, sessions.sessions_of(s, u.login)) for u in users.list_users(s)]
    if args.json:
        print_json([{**u.as_json(), "sessions": n} for u, n in listed])
        return
    print_table(
        [[u.login, u.role, u.agent, "disabled" if u.disabled else "active", n] for u, n in listed],
        ["LOGIN", "ROLE", "AGENT", "STATUS", "SESSIONS"],
    )
