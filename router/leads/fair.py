"""Which free agent gets a lead of a new family: the office's strategy, counted over leads.

Pure, like the call decision: the agents and their lead counts come in as
values. A lead claims no phone, so what matters is who was given a lead least
recently (`longest-idle` and `round-robin`) or fewest today (`fewest-calls`);
`random` is seeded by the lead, so a repeat picks the same agent.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LeadAgent:
    """An available agent of an office, with what fairness over leads reads."""

    login: str
    last_lead_at: datetime | None = None
    leads_today: int = 0


def choose(agents: Sequence[LeadAgent], strategy: str, seed: str) -> LeadAgent | None:
    """The agent to give the lead to, or None when `agents` is empty."""
    if not agents:
        return None
    by_login = sorted(agents, key=lambda a: a.login)
    if strategy == "random":
        return random.Random(seed).choice(by_login)
    if strategy == "fewest-calls":
        return min(by_login, key=lambda a: (a.leads_today, a.last_lead_at or _NEVER))
    return min(by_login, key=lambda a: a.last_lead_at or _NEVER)
