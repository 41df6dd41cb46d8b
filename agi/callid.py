"""Which call a session is about: Asterisk's unique id, made unique across PBXs.

`agi_uniqueid` is unique within one Asterisk only: without `systemname` it
is `EPOCH.SEQUENCE`, and two PBXs routing through one Callkeeper (or one
PostgreSQL) hand out the same ids. The call id keys the ledger's `call_uid`
and the agents' claims ("already rung" for this call), so two callers must
never share one. An id that carries a system name (`systemname-EPOCH.SEQ`,
set in Asterisk's asterisk.conf, see deploy/asterisk/) is unique by itself
and kept as it is; any other is prefixed with the address of the PBX that
connected (`10.0.0.5/1795807259.67`). Both sessions of one advise-mode call
(route, then outcome) come from the same PBX and so get the same call id.
"""

from __future__ import annotations

import re

_WITH_SYSTEM_NAME = re.compile(r"^[^/\s]+-\d+\.\d+$")


def call_id(unique_id: str, peer: str) -> str:
    if not unique_id or not peer or _WITH_SYSTEM_NAME.match(unique_id):
        return unique_id
    return f"{peer}/{unique_id}"
