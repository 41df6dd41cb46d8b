"""Console logins and sessions, kept in the database so that every process sees a logout.

A login is refused before its password is even checked once its account or
its address has too many recent failures (throttling); a good login starts a
new session with a new random id (never one the browser brought), and the
session ends on logout, on idle or absolute timeout, and when the user is
disabled or given a new password.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from router.accounts import passwords
from router.accounts.users import UserView, find_user, user_view
from router.errors import CallkeeperError
from router.storage.models import ConsoleSession, ConsoleUser, LoginFailure

# How often a live session's idle clock is written back: an idle timeout is
# honoured to within this much.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    window: timedelta = timedelta(minutes=15)
    max_account_failures: int = 5
    max_address_failures: int = 20


@dataclass(frozen=True, slots=True)
class LoggedIn:
    """What the browser holds (`token`, in a cookie) and what the pages need (`user`, `csrf`)."""

    token: str
    user: UserView
    csrf: str


class LoginThrottled(CallkeeperError):
    """Too many refused logins lately for this account or this address."""


def log_in(
    session: Session, login: str, password: str, *, address: str, now: datetime, policy: SessionPolicy
) -> LoggedIn | None:
    """A new session, or None when refused (wrong login or password, or a disabled user: one answer
    for each). A refusal is not raised: its failure row is in `session`, and the caller's commit
    must keep it, where a raise would roll it back and let guessing go on unthrottled."""
    login = login.strip()[:64]
    address = address[:64]
    if _throttled(session, login, address, now, policy):
        raise LoginThrottled("too many failed logins: wait a few minutes")
    user = find_user(session, login)
    ok = passwords.verify(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled:
        session.add(LoginFailure(at=now, login=login, address=address))
        session.flush()
        return None
    session.execute(delete(LoginFailure).where(LoginFailure.login == login))
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(ConsoleSession(id=_key(token), user_id=user.id, csrf=csrf, created_at=now, last_seen_at=now))
    session.flush()
    return LoggedIn(token=token, user=user_view(user), csrf=csrf)


def check(
    session: Session, token: str, *, now: datetime, policy: SessionPolicy
) -> tuple[LoggedIn | None, bool]:
    """The session a cookie names if it is alive, and whether `resume` must write (read only).

    Most requests need no write: the idle clock is restarted at most once a
    minute (`TOUCH_EVERY`), so a page view or the agents board's polling
    does not take SQLite's write lock from the calls being routed.
    """
    if not token:
        return None, False
    row = session.get(ConsoleSession, _key(token))
    if row is None:
        return None, False
    user = session.get(ConsoleUser, row.user_id)
    expired = now - row.last_seen_at > policy.idle or now - row.created_at > policy.absolute
    if user is None or user.disabled or expired:
        return None, True
    return LoggedIn(token=token, user=user_view(user), csrf=row.csrf), now - row.last_seen_at >= TOUCH_EVERY


def resume(session: Session, token: str, *, now: datetime, policy: SessionPolicy) -> LoggedIn | None:
    """The session a cookie names, if it is still alive; touching it restarts its idle clock,
    and a dead one is deleted."""
    if not token:
        return None
    row = session.get(ConsoleSession, _key(token))
    if row is None:
        return None
    user = session.get(ConsoleUser, row.user_id)
    expired = now - row.last_seen_at > policy.idle or now - row.created_at > policy.absolute
    if user is None or user.disabled or expired:
        session.delete(row)
        session.flush()
        return None
    row.last_seen_at = now
    session.flush()
    return LoggedIn(token=token, user=user_view(user), csrf=row.csrf)


def log_out(session: Session, token: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.id == _key(token)))


def sessions_of(session: Session, login: str) -> int:
    """How many live session rows a user has (for the CLI's `user list` and the tests)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(ConsoleSession)
            .join(ConsoleUser)
            .where(ConsoleUser.login == login)
        )
        or 0
    )


def _throttled(session: Session, login: str, address: str, now: datetime, policy: SessionPolicy) -> bool:
    since = now - policy.window
    session.execute(delete(LoginFailure).where(LoginFailure.at < since))
    recent = select(LoginFailure.login, LoginFailure.address).where(
        LoginFailure.at >= since, or_(LoginFailure.login == login, LoginFailure.address == address)
    )
    rows = session.execute(recent).all()
    by_account = sum(1 for row in rows if row.login == login)
    by_address = sum(1 for row in rows if row.address == address)
    return by_account >= policy.max_account_failures or by_address >= policy.max_address_failures


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
