"""Which call a session is about: Asterisk's unique id, made unique across PBXs.

`agi_uniqueid` is unique within one Asterisk only: without `systemname` it
is `EPOCH.SEQUENCE`, and two PBXs routing through one Callkeeper (or one
PostgreSQL) hand out the same ids. The call id keys the ledger's `call_uid`
and the agents' claims ("already rung" for this call), so two callers must
never share one. It is the address of the PBX that connected, then the
unique id: `10.0.0.5/1795807259.67`. Two PBXs behind one NAT address are
told apart by Asterisk's `systemname` (asterisk.conf, see deploy/asterisk/),
which Asterisk puts in the unique id itself: `10.0.0.5/pbx-east-1795807259.67`.

The address is kept even when a system name makes the id unique: it is what
ties advise mode's outcome session to the PBX that made the call
(`router.routing.outcome_check`), as both sessions of one call come from it.
"""

from __future__ import annotations


def call_id(unique_id: str, peer: str) -> str:
    if not unique_id or not peer:
        return unique_id
    return f"{peer}/{unique_id}"
