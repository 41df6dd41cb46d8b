"""Attempts that could not be written to the ledger, kept on disk until they can.

A call never waits for the ledger: when `Router.record` fails, the attempt is
appended to a JSON-lines file (flushed and fsynced) and replayed later by the
server's housekeeping. Each record's replay ends one of three ways:

- written: it leaves the spool;
- the database is away (busy or locked, connection lost, down): it and every
  record after it stay, in order, for the next round;
- refused for good, for this record alone (its decision is unknown, it is
  recorded already, a value the column cannot hold): it goes, alone and with
  its `reason`, to `ledger-spool.rejected.jsonl`, and the records after it
  are replayed as usual.

Anything else (a bug) keeps the record spooled and goes on to the next.
Nothing valid is thrown away and nothing is written twice: a line leaves the
spool only after its replay committed, or with its reason in the rejected file.

A node of several workers keeps one spool file per worker (`spool_name`):
worker i alone appends to and replays its file, so no lock crosses
processes and a call never waits for another process's replay; a worker
started again in its place takes its file over. Files of workers a smaller
node no longer has are replayed by worker 0 (`orphaned_spools`). Should a
line be replayed twice all the same (a crash between the commit and the
rewrite), the ledger refuses the second as recorded already.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import InterfaceError as DbInterfaceError

from router.errors import CallkeeperError, DatabaseUnavailable
from router.routing.service import DialOutcome, Router

log = logging.getLogger(__name__)

SPOOL_FILE = "ledger-spool.jsonl"
REJECTED_FILE = "ledger-spool.rejected.jsonl"


def spool_name(worker: int) -> str:
    """Worker i's spool file; worker 0's (and a single process's) is SPOOL_FILE."""
    return SPOOL_FILE if worker == 0 else f"ledger-spool.{worker}.jsonl"


def orphaned_spools(folder: str | os.PathLike[str], workers: int) -> list[str]:
    """Spool files of worker numbers at or past `workers`: left by a node that had more."""
    names = []
    for path in Path(folder).glob("ledger-spool.*.jsonl"):
        number = path.name.split(".")[1]
        if number.isdigit() and int(number) >= workers:
            names.append(path.name)
    return sorted(names)


class LedgerSpool:
    def __init__(self, folder: str | os.PathLike[str], name: str = SPOOL_FILE) -> None:
        self.folder = Path(folder)
        self.path = self.folder / name
        self._lock = threading.Lock()
        self._rejected = 0

    def add(self, decision_id: int, seq: int, outcome: DialOutcome) -> None:
        entry = {
            "decision": decision_id,
            "seq": seq,
            "status": outcome.status,
            "started_at": outcome.started_at.isoformat(),
            "ring_seconds": outcome.ring_seconds,
            "talk_seconds": outcome.talk_seconds,
        }
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")
                fh.flush()
                os.fsync(fh.fileno())

    def __len__(self) -> int:
        with self._lock:
            return len(self._read())

    def replay(self, router: Router) -> int:
        """Write what the database takes now; returns how many records remain spooled."""
        with self._lock:
            entries = self._read()
            if not entries:
                return 0
            remaining: list[dict[str, Any]] = []
            for index, entry in enumerate(entries):
                try:
                    router.record(int(entry["decision"]), int(entry["seq"]), _outcome(entry))
                except (DatabaseUnavailable, OperationalError, DbInterfaceError) as exc:
                    log.warning(
                        "ledger still unavailable, %d record(s) stay spooled: %s", len(entries) - index, exc
                    )
                    remaining.extend(entries[index:])
                    break
                except (CallkeeperError, DataError, IntegrityError, KeyError, ValueError) as exc:
                    self._reject(entry, exc)
                except Exception:
                    log.exception("spooled ledger record kept for the next round after a bug: %s", entry)
                    remaining.append(entry)
            self._rewrite(remaining)
            return len(remaining)

    @property
    def rejected(self) -> int:
        """Records set aside for good since this spool was opened (the metric's counter)."""
        return self._rejected

    def _reject(self, entry: dict[str, Any], exc: BaseException) -> None:
        reason = (
            str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc) else type(exc).__name__
        )
        log.error("spooled ledger record rejected for good: %s (%s)", entry, reason)
        self._append(self.folder / REJECTED_FILE, [entry | {"reason": reason}])
        self._rejected += 1

    def _read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        entries = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    log.error("unreadable spool line kept aside: %r", line[:200])
                    self._append(self.folder / REJECTED_FILE, [{"raw": line, "reason": "not JSON"}])
                    self._rejected += 1
        return entries

    def _rewrite(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
        os.replace(tmp, self.path)

    @staticmethod
    def _append(path: Path, entries: list[dict[str, Any]]) -> None:
        with path.open("a", encoding="utf-8") as fh:
            fh.writelines(json.dumps(e) + "\n" for e in entries)


def _outcome(entry: dict[str, Any]) -> DialOutcome:
    return DialOutcome(
        status=str(entry["status"]),
        started_at=datetime.fromisoformat(str(entry["started_at"])),
        ring_seconds=float(entry["ring_seconds"]),
        talk_seconds=float(entry["talk_seconds"]),
    )
