"""A real Asterisk 22, started from the prebuilt tarball of `../shared/asterisk`
(or $CALLKEEPER_ASTERISK_SHARED) with its `run-asterisk` launcher.

Its dialplan is the shipped deploy/asterisk/extensions.conf, included
unchanged, followed by the caller's own contexts (a test's, a benchmark's).
The end-to-end tests (tests/real_asterisk.py) and `python -m bench asterisk`
both use this module: it lives in bench/ rather than tests/ because a
benchmark must not import test code, and not in agi/ or router/ because the
product must not carry its test tooling. Nothing here knows what the
contexts do: unpack, start with a dialplan, drive the CLI, read and write
AstDB, stop.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

SHARED_ENV = "CALLKEEPER_ASTERISK_SHARED"
REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "deploy" / "asterisk" / "extensions.conf"
# asterisk.conf's `systemname`: Asterisk prefixes every UNIQUEID with it, so
# the calls of several PBXs sharing one Callkeeper never share an id.
SYSTEMNAME = "ck-pbx-1"


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


class Asterisk:
    """One Asterisk: the shipped dialplan plus `contexts`, and the given `queues.conf`.

    `extra_conf` adds files to its configuration folder (e.g. a manager.conf).
    """

    def __init__(
        self,
        unpacked: Path,
        workdir: Path,
        *,
        contexts: str,
        queues: str,
        extra_conf: dict[str, str] | None = None,
        verbose: str | None = None,
    ) -> None:
        self.launcher = shared_dir() / "run-asterisk"
        self.unpacked = unpacked
        self.confdir = workdir / "conf"
        self.confdir.mkdir(parents=True)
        self.verbose = verbose
        (self.confdir / "extensions.conf").write_text(
            f"[general]\nstatic = yes\nwriteprotect = yes\n\n#include {SHIPPED}\n{contexts}",
            encoding="utf-8",
        )
        (self.confdir / "queues.conf").write_text(queues, encoding="utf-8")
        # No [options] header: run-asterisk appends this file after its own
        # [options], and Asterisk reads only the first section of that name.
        (self.confdir / "asterisk.conf").write_text(f"systemname = {SYSTEMNAME}\n", encoding="utf-8")
        for name, text in (extra_conf or {}).items():
            (self.confdir / name).write_text(text, encoding="utf-8")
        self.conf = ""

    def start(self) -> Asterisk:
        verbose = self.verbose or os.environ.get("RUN_ASTERISK_VERBOSE", "3")
        done = subprocess.run(
            [str(self.launcher), "start", str(self.unpacked), str(self.confdir)],
            capture_output=True,
            text=True,
            env={**os.environ, "RUN_ASTERISK_VERBOSE": verbose},
            timeout=120,
        )
        if done.returncode != 0:
            raise AsteriskError(f"run-asterisk start failed: {done.stderr.strip()}")
        self.conf = done.stdout.strip()
        return self

    @property
    def rundir(self) -> Path:
        return Path(self.conf).parent.parent

    def pid(self) -> int:
        return int(
            subprocess.run([str(self.launcher), "pid", self.conf], capture_output=True, text=True).stdout
        )

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

    def originate(self, channel: str, application: str, data: str) -> None:
        """`channel originate`: returns at once, the call runs on in Asterisk."""
        self.rx(f"channel originate {channel} application {application} {data}")

    def idle(self, timeout: float = 30.0) -> bool:
        """True once no channel is up (every call, agent leg and queue leg included, has ended)."""
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            if "0 active channels" in self.rx("core show channels count"):
                return True
            time.sleep(0.2)
        return False

    def queue_log(self) -> list[str]:
        log = self.rundir / "log" / "queue_log"
        return log.read_text().splitlines() if log.exists() else []

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
