"""What each console role may do: one table, asked first by every console handler.

Admin: everything (also disabling agents and handing their families over).
Supervisor: families, evidence, suggestions, splits, leads and their
confirmation, and agent states. Manager: read-only, and only the families they own or co-own (checked per
object by `may_see_household`, not only hidden in a menu).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from router.storage.models import CONSOLE_ROLES

ADMIN, SUPERVISOR, MANAGER = CONSOLE_ROLES


class Right(enum.StrEnum):
    SEARCH = "search"
    SEE_ANY_HOUSEHOLD = "see-any-household"
    EDIT_HOUSEHOLDS = "edit-households"
    SEE_AGENTS = "see-agents"
    SET_AGENT_STATE = "set-agent-state"
    EXPLAIN_ROUTE = "explain-route"
    SEE_AUDIT = "see-audit"
    SEE_EVIDENCE = "see-evidence"
    EDIT_SPLITS = "edit-splits"
    HANDLE_SUGGESTIONS = "handle-suggestions"
    SETTLE_DISPUTES = "settle-disputes"
    MANAGE_USERS = "manage-users"
    SEE_LEADS = "see-leads"
    CONFIRM_LEADS = "confirm-leads"
    MANAGE_AGENTS = "manage-agents"


RIGHTS: dict[str, frozenset[Right]] = {
    ADMIN: frozenset(Right),
    SUPERVISOR: frozenset(Right) - {Right.MANAGE_USERS, Right.MANAGE_AGENTS},
    MANAGER: frozenset({Right.SEARCH}),
}


def allows(role: str, right: Right) -> bool:
    return right in RIGHTS.get(role, frozenset())


def may_see_household(
    role: str, own_agent: str | None, household_owner: str | None, co_owners: Sequence[str] = ()
) -> bool:
    """A manager sees only the households their own agent owns or co-owns; the others see every one."""
    if allows(role, Right.SEE_ANY_HOUSEHOLD):
        return True
    return own_agent is not None and (household_owner == own_agent or own_agent in co_owners)
