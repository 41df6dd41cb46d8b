"""Adding, disabling and listing console users; every change is audited with who made it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from router.accounts import passwords
from router.directory import audit
from router.directory.offices import get_agent
from router.errors import N_, Conflict, InvalidInput, NotFound
from router.storage.models import CONSOLE_ROLES, ConsoleSession, ConsoleUser


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    login: str
    role: str
    agent: str | None
    disabled: bool

    def as_json(self) -> dict[str, object]:
        return {"login": self.login, "role": self.role, "agent": self.agent, "disabled": self.disabled}


def user_view(user: ConsoleUser) -> UserView:
    return UserView(
        id=user.id,
        login=user.login,
        role=user.role,
        agent=user.agent.login if user.agent is not None else None,
        disabled=user.disabled,
    )


def get_user(session: Session, login: str) -> ConsoleUser:
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.login == login))
    if user is None:
        raise NotFound(N_("no console user %(login)r"), login=login)
    return user


def find_user(session: Session, login: str) -> ConsoleUser | None:
    return session.scalar(select(ConsoleUser).where(ConsoleUser.login == login))


def add_user(
    session: Session, login: str, *, role: str, password: str, agent: str | None = None, actor: str
) -> UserView:
    login = login.strip()
    if not login or any(c.isspace() for c in login) or len(login) > 64:
        raise InvalidInput(N_("user login %(login)r must be one word of at most 64 characters"), login=login)
    if role not in CONSOLE_ROLES:
        raise InvalidInput(
            N_("role must be one of %(roles)s, not %(role)r"), roles=", ".join(CONSOLE_ROLES), role=role
        )
    if find_user(session, login) is not None:
        raise Conflict(N_("console user %(login)r already exists"), login=login)
    user = ConsoleUser(
        login=login,
        role=role,
        agent=get_agent(session, agent) if agent else None,
        password_hash=passwords.hash_password(password),
    )
    session.add(user)
    session.flush()
    audit.record(session, "user-add", household=None, subject=login, after=_describe(user), actor=actor)
    return user_view(user)


def set_disabled(session: Session, login: str, disabled: bool, *, actor: str) -> UserView:
    """Disable (ending every session of the user, in every process) or enable a user."""
    user = get_user(session, login)
    if user.disabled != disabled:
        user.disabled = disabled
        audit.record(
            session, "user-disable" if disabled else "user-enable", household=None, subject=login, actor=actor
        )
    if disabled:
        session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
    session.flush()
    return user_view(user)


def set_password(session: Session, login: str, password: str, *, actor: str) -> UserView:
    """A new password; the user's open sessions end, as after a suspected leak they should."""
    user = get_user(session, login)
    user.password_hash = passwords.hash_password(password)
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
    audit.record(session, "user-password", household=None, subject=login, actor=actor)
    session.flush()
    return user_view(user)


def list_users(session: Session) -> list[UserView]:
    query = select(ConsoleUser).options(selectinload(ConsoleUser.agent)).order_by(ConsoleUser.login)
    return [user_view(u) for u in session.scalars(query)]


def _describe(user: ConsoleUser) -> str:
    agent = f" agent={user.agent.login}" if user.agent is not None else ""
    return f"role={user.role}{agent}"
