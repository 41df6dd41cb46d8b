"""Whether an advise-mode outcome may be written to the ledger.

Anyone who reaches the AGI port can run the `outcome` script, and an outcome
is evidence: an ANSWER adds a share of a split, adopts a new caller, ends an
agent's claim. So it is written only for a call this server advised, for an
attempt it planned, once, from the PBX that made the call, while the call
can still be dialling it. Each rule has its refusal, which is also the
`reason` label of `callkeeper_outcome_refused_total`:

- `dial_mode`: in dial mode the server dials and records every attempt
  itself; an outcome session is never legitimate (the call front refuses it
  before reading anything);
- `unknown_decision`: no decision has this id;
- `other_call`: the decision is another call's: its call id, the address of
  the PBX that connected plus Asterisk's unique id (`agi.callid`), is not
  this session's, so the session comes from another PBX, or another channel;
- `not_planned`: the decision planned no attempt with this number;
- `recorded`: this attempt's end is in the ledger already (an outcome is
  accepted once);
- `too_late`: the Dial it reports (now less its DIALEDTIME) began after
  the call's claims had lapsed (the decision's time plus the ring time of
  the targets up to this one and the claim margin, at most
  `claim_ttl_seconds`): an outcome of a call long over.

Not checked: which of the planned attempts the decision claimed (the server
does not store it), and DIALEDTIME itself, which is the PBX's word. So a
session that passes every rule comes from the call's own PBX address with
the call's unique id, and reports each attempt once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, bindparam, exists, select

from router.routing.claims import CLAIM_MARGIN_SECONDS
from router.routing.ledger import STARTED
from router.routing.plan import PlannedAttempt, targets
from router.storage.models import Attempt, Decision
from router.storage.prepared import Prepared

REASONS = ("dial_mode", "unknown_decision", "other_call", "not_planned", "recorded", "too_late")
# The outcome session starts a little after the Dial ends, and clocks differ a little.
CLOCK_SLACK = timedelta(seconds=5)

_READ = Prepared(
    select(
        Decision.call_uid,
        Decision.at,
        Decision.plan,
        exists().where(
            and_(
                Attempt.decision_id == Decision.id,
                Attempt.seq == bindparam("seq"),
                Attempt.status != STARTED,
            )
        ),
    ).where(Decision.id == bindparam("decision_id"))
)


def refusal(
    connection: Connection,
    *,
    decision_id: int,
    seq: int,
    call_uid: str,
    now: datetime,
    same_pbx_only: bool = False,
    dialed_seconds: float,
    claim_cap_seconds: int,
) -> str | None:
    """The rule this outcome breaks, or None when it may be written."""
    row = _READ.first(connection, {"decision_id": decision_id, "seq": seq})
    if row is None:
        return "unknown_decision"
    stored_uid, decided_at, plan, recorded = row
    if (_pbx(stored_uid) != _pbx(call_uid)) if same_pbx_only else (stored_uid != call_uid):
        return "other_call"
    planned = [PlannedAttempt.from_json(data) for data in plan]
    if seq not in {p.seq for p in planned}:
        return "not_planned"
    if recorded:
        return "recorded"
    dial_began = now - timedelta(seconds=max(dialed_seconds, 0.0))
    # Agents rung together (a target of several, reported by its first seq) ring once, as long as the longest.
    ring_up_to_here = sum(
        max(p.timeout + p.wait_seconds for p in target) for target in targets(planned) if target[0].seq <= seq
    )
    window = timedelta(seconds=min(ring_up_to_here + CLAIM_MARGIN_SECONDS, claim_cap_seconds))
    if dial_began > decided_at + window + CLOCK_SLACK:
        return "too_late"
    return None


def _pbx(call_uid: str) -> str:
    """The PBX part of a call id (`agi.callid`: its address before the slash)."""
    return call_uid.partition("/")[0]
