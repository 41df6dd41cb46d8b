"""A real Asterisk 22 for end-to-end tests: the prebuilt tarball of
`../shared/asterisk` (or $CALLKEEPER_ASTERISK_SHARED), unpacked once per test
run and started with its `run-asterisk` launcher.

Its dialplan is the shipped deploy/asterisk/extensions.conf, included
unchanged, beside the test's own contexts:

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

import hashlib
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agi import variables as var

SHARED_ENV = "CALLKEEPER_ASTERISK_SHARED"
REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "deploy" / "asterisk" / "extensions.conf"
QUEUE_MEMBER = "Local/queue@ck-agents"
# asterisk.conf's `systemname`: Asterisk prefixes every UNIQUEID with it, so
# the calls of several PBXs sharing one Callkeeper never share an id.
SYSTEMNAME = "ck-pbx-1"

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


def shared_dir() -> Path:
    """Where $CALLKEEPER_ASTERISK_SHARED says, else shared/asterisk beside the clone.

    A git worktree's clone is the one its .git file points to, so a worktree
    elsewhere finds the same shared/ folder as its clone.
    """
    if os.environ.get(SHARED_ENV):
        return Path(os.environ[SHARED_ENV])
    beside = REPO.parent / "shared" / "asterisk"
    git = REPO / ".git"
    if not beside.exists() and git.is_file():
        gitdir = Path(git.read_text(encoding="utf-8").partition("gitdir:")[2].strip())
        # <clone>/.git/worktrees/<name> -> <clone>/../shared/asterisk
        clone_beside = gitdir.resolve().parents[2].parent / "shared" / "asterisk"
        if clone_beside.exists():
            return clone_beside
    return beside


def tarball() -> Path | None:
    found = sorted((shared_dir() / "dist").glob("asterisk-22-*-x86_64.tar.xz"))
    return found[-1] if found else None


class AsteriskError(RuntimeError):
    """The real Asterisk could not be started or driven."""


@dataclass
class CallResult:
    """What the caller's channel saw when it hung up (the `ck-report` handler)."""

    values: Mapping[str, str]

    def __getitem__(self, key: str) -> str:
        return self.values.get(key, "")


class RealAsterisk:
    """One running Asterisk; `globals_` are set before each test by the fixture."""

    def __init__(self, unpacked: Path, workdir: Path) -> None:
        self.launcher = shared_dir() / "run-asterisk"
        self.unpacked = unpacked
        self.confdir = workdir / "conf"
        self.confdir.mkdir(parents=True)
        (self.confdir / "extensions.conf").write_text(
            f"[general]\nstatic = yes\nwriteprotect = yes\n\n#include {SHIPPED}\n{TEST_CONTEXTS}",
            encoding="utf-8",
        )
        (self.confdir / "queues.conf").write_text(QUEUES, encoding="utf-8")
        # No [options] header: run-asterisk appends this file after its own
        # [options], and Asterisk reads only the first section of that name.
        (self.confdir / "asterisk.conf").write_text(f"systemname = {SYSTEMNAME}\n", encoding="utf-8")
        self.conf = ""
        self._tags = 0

    def start(self) -> RealAsterisk:
        env = {**os.environ, "RUN_ASTERISK_VERBOSE": os.environ.get("RUN_ASTERISK_VERBOSE", "3")}
        done = subprocess.run(
            [str(self.launcher), "start", str(self.unpacked), str(self.confdir)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        if done.returncode != 0:
            raise AsteriskError(f"run-asterisk start failed: {done.stderr.strip()}")
        self.conf = done.stdout.strip()
        return self

    @property
    def rundir(self) -> Path:
        return Path(self.conf).parent.parent

    def rx(self, command: str) -> str:
        done = subprocess.run(
            [str(self.launcher), "rx", self.conf, command], capture_output=True, text=True, timeout=30
        )
        if done.returncode != 0:
            raise AsteriskError(f"{command!r}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def stop(self) -> None:
        if self.conf:
            subprocess.run([str(self.launcher), "stop", self.conf], capture_output=True, timeout=60)
            self.conf = ""

    def set_global(self, name: str, value: str) -> None:
        self.rx(f"dialplan set global {name} {value}")

    def put(self, family: str, key: str, value: str) -> None:
        self.rx(f'database put {family} {key} "{value}"')

    def get(self, family: str, key: str) -> str | None:
        out = self.rx(f"database get {family} {key}")
        for line in out.splitlines():
            if line.startswith("Value:"):
                return line.partition(":")[2].strip()
        return None

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
        self.rx(f"channel originate Local/{tag}@ck-call application Wait {talk}")
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

    def idle(self, timeout: float = 30.0) -> bool:
        """True once no channel is up (every call, agent leg and queue leg included, has ended)."""
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            if "0 active channels" in self.rx("core show channels count"):
                return True
            time.sleep(0.2)
        return False

    def state_of(self, tag: str) -> str:
        """The state of call `tag`'s caller side (Local/TAG@ck-call-…;1): Down, Ringing, Up…"""
        for line in self.rx("core show channels concise").splitlines():
            fields = line.split("!")
            if fields[0].startswith(f"Local/{tag}@ck-call-") and fields[0].endswith(";1"):
                return fields[4]
        return ""

    def queue_connects(self) -> int:
        """Calls the `sales` queue's member took (queue_log CONNECT lines)."""
        log = self.rundir / "log" / "queue_log"
        if not log.exists():
            return 0
        return sum("|sales|" in line and "|CONNECT|" in line for line in log.read_text().splitlines())

    def messages(self) -> str:
        path = self.rundir / "log" / "messages.log"
        return path.read_text(errors="replace") if path.exists() else ""


def unpack(into: Path) -> Path:
    """The tarball unpacked into `into`; returns the folder it was unpacked into."""
    found = tarball()
    if found is None:
        raise AsteriskError(f"no Asterisk tarball in {shared_dir() / 'dist'}")
    expected = found.with_name(found.name + ".sha256")
    if expected.exists():
        digest = hashlib.sha256(found.read_bytes()).hexdigest()
        if digest != expected.read_text(encoding="utf-8").split()[0]:
            raise AsteriskError(f"{found.name} does not match {expected.name}")
    with tarfile.open(found) as archive:
        if hasattr(tarfile, "tar_filter"):  # Python 3.11.4+: keeps symlinks inside the tree
            archive.extractall(into, filter="tar")
        else:
            archive.extractall(into)
    return into


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
