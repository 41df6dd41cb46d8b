"""The real Asterisk of the end-to-end tests: bench/real_asterisk.py's (which
the benchmark shares), with the tests' own contexts beside the shipped
dialplan:

- `ck-call`: where a test's call starts. `channel originate
  Local/TAG@ck-call application Wait N` places it: TAG's caller number, DID and
  hang-up time are read from AstDB (`ckcall/TAG/...`), the caller ID is set
  and the call enters `callkeeper-inbound` with that DID. N is how long the
  caller talks once answered. A hang-up handler writes what the caller's
  channel saw at the end (DIALSTATUS, ANSWEREDTIME_MS, CALLKEEPER_*) to
  AstDB `ckresult/TAG`, which the test waits for.
- `ck-agents`: every agent is `Local/LOGIN@ck-agents`; AstDB `ckagent/LOGIN`
  says how they behave on the next call: `answer:RING:TALK`, `busy`,
  `noanswer` or `congestion` (default: answer at once, talk 1 s).
- the queue `sales` with one member, `Local/queue@ck-agents`, who answers
  and talks 1 s; a call it took shows as CONNECT in queue_log.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agi import variables as var
from bench.real_asterisk import (
    SHARED_ENV,
    SYSTEMNAME,
    Asterisk,
    AsteriskError,
    remove,
    shared_dir,
    tarball,
    unpack,
)

__all__ = [
    "SHARED_ENV",
    "SYSTEMNAME",
    "AsteriskError",
    "RealAsterisk",
    "remove",
    "shared_dir",
    "tarball",
    "unpack",
]

QUEUE_MEMBER = "Local/queue@ck-agents"

TEST_CONTEXTS = """
[ck-call]
exten => _X.,1,Set(CK_TAG=${EXTEN})
 same => n,Set(CHANNEL(hangup_handler_push)=ck-report,s,1(${EXTEN}))
 same => n,Set(CALLERID(num)=${DB(ckcall/${EXTEN}/caller)})
 same => n,Set(CK_HANGUP_AFTER=${DB(ckcall/${EXTEN}/hangup)})
 same => n,ExecIf($["${CK_HANGUP_AFTER}" != ""]?Set(TIMEOUT(absolute)=${CK_HANGUP_AFTER}))
 same => n,Goto(callkeeper-inbound,${DB(ckcall/${EXTEN}/did)},1)

[ck-report]
exten => s,1,Set(R=DIALSTATUS=${DIALSTATUS}|ANSWEREDTIME_MS=${ANSWEREDTIME_MS})
 same => n,Set(R=${R}|DIALEDTIME_MS=${DIALEDTIME_MS}|STATUS=${CALLKEEPER_STATUS})
 same => n,Set(R=${R}|ROUTE=${CALLKEEPER_ROUTE}|AGISTATUS=${AGISTATUS})
 same => n,Set(DB(ckresult/${ARG1})=${R})
 same => n,Return()

[ck-agents]
exten => _[a-z].,1,Set(CK_B=${DB(ckagent/${EXTEN})})
 same => n,GotoIf($["${CK_B}" = ""]?answer)
 same => n,Goto(${CUT(CK_B,:,1)})
 same => n(answer),Wait(${IF($["${CUT(CK_B,:,2)}" = ""]?0:${CUT(CK_B,:,2)})})
 same => n,Answer()
 same => n,Wait(${IF($["${CUT(CK_B,:,3)}" = ""]?1:${CUT(CK_B,:,3)})})
 same => n,Hangup()
 same => n(busy),Busy(5)
 same => n(noanswer),Wait(600)
 same => n(congestion),Congestion(5)
"""

QUEUES = f"""[general]
persistentmembers = no

[sales]
strategy = ringall
timeout = 5
retry = 1
member => {QUEUE_MEMBER}
"""


@dataclass
class CallResult:
    """What the caller's channel saw when it hung up (the `ck-report` handler)."""

    values: Mapping[str, str]

    def __getitem__(self, key: str) -> str:
        return self.values.get(key, "")


class RealAsterisk(Asterisk):
    """The run's Asterisk with the test contexts; `reset()` before each test."""

    def __init__(self, unpacked: Path, workdir: Path) -> None:
        super().__init__(unpacked, workdir, contexts=TEST_CONTEXTS, queues=QUEUES)
        self._tags = 0

    def reset(self) -> None:
        """Before a test: no agent behaviour, no results, no Callkeeper globals left over."""
        for family in ("ckagent", "ckcall", "ckresult"):
            self.rx(f"database deltree {family}")
        for name in (var.AGI_GLOBAL, var.AGI_SPARE_GLOBAL, var.LINE_GLOBAL):
            self.set_global(name, "")

    def agent(self, login: str, behaviour: str) -> None:
        """`answer:RING:TALK`, `busy`, `noanswer` or `congestion` for this agent's next calls."""
        self.put("ckagent", login, behaviour)

    def call(self, caller: str, did: str, *, talk: int = 30, hang_up_after: int | None = None) -> str:
        """Place a call from `caller` on `did`; the caller stays `talk` s once answered. Returns its tag."""
        self._tags += 1
        tag = f"{int(time.time() * 1000) % 10**9}{self._tags:03d}"
        self.put("ckcall", f"{tag}/caller", caller)
        self.put("ckcall", f"{tag}/did", did)
        if hang_up_after is not None:
            self.put("ckcall", f"{tag}/hangup", str(hang_up_after))
        self.originate(f"Local/{tag}@ck-call", "Wait", str(talk))
        return tag

    def result(self, tag: str, timeout: float = 60.0) -> CallResult:
        """What the caller's channel saw, once the call has ended."""
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            value = self.get("ckresult", tag)
            if value is not None:
                pairs = (item.partition("=") for item in value.split("|"))
                return CallResult({k: v for k, _, v in pairs})
            time.sleep(0.2)
        raise AsteriskError(f"call {tag} did not end within {timeout} s")

    def state_of(self, tag: str) -> str:
        """The state of call `tag`'s caller side (Local/TAG@ck-call-…;1): Down, Ringing, Up…"""
        for line in self.rx("core show channels concise").splitlines():
            fields = line.split("!")
            if fields[0].startswith(f"Local/{tag}@ck-call-") and fields[0].endswith(";1"):
                return fields[4]
        return ""

    def queue_connects(self) -> int:
        """Calls the `sales` queue's member took (queue_log CONNECT lines)."""
        return sum("|sales|" in line and "|CONNECT|" in line for line in self.queue_log())
