"""Who answered a Dial that rang several agents at once, from what Asterisk says after it.

app_dial.c clears DIALEDPEERNAME and DIALEDPEERNUMBER at the start of every
Dial and, when a channel answers, sets DIALEDPEERNAME to that channel's name
(`PJSIP/101-0000000b`; for a Local channel the outbound half,
`Local/ann@ck-agents-0000002a;1`) and DIALEDPEERNUMBER to the resource it was
dialled as (`101`, `ann@ck-agents/n`). Either names the interface of one
of the Dial's agents; the channel name is asked first, the number second.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from router.routing.plan import PlannedAttempt

# The unique suffix Asterisk gives a channel's name, and a Local channel's half.
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-fA-F]+(;[12])?$")


def who_answered(
    members: Sequence[PlannedAttempt], peer_name: str | None, peer_number: str | None
) -> PlannedAttempt | None:
    """The attempt whose agent's channel answered; the only one of a Dial of one; None if unknown."""
    if len(members) == 1:
        return members[0]
    if peer_name:
        interface = _CHANNEL_SUFFIX.sub("", peer_name.strip())
        found = next((m for m in members if _interface(m.dial) == interface), None)
        if found is not None:
            return found
    if peer_number:
        return next((m for m in members if _resource(m.dial) == peer_number.strip()), None)
    return None


def _resource(dial: str) -> str:
    """`101` of `PJSIP/101`, `ann@ck-agents/n` of `Local/ann@ck-agents/n`: what Dial dials."""
    return dial.strip().partition("/")[2]


def _interface(dial: str) -> str:
    """The part of a dial string a channel's name starts with: technology and its first resource
    segment (`Local/ann@ck-agents` of `Local/ann@ck-agents/n`, whose `/n` is an option)."""
    tech, _, resource = dial.strip().partition("/")
    return f"{tech}/{resource.partition('/')[0]}"
