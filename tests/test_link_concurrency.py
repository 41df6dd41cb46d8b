"""Two processes link one number to two households at the same moment.

The unique key on the number decides: exactly one link, one audit row, and
the other process gets a conflict (exit 4) with a one-line error. Each
process imports everything first and then waits for a go file, so both
transactions really overlap; the race is run several times per backend.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from router.directory import households, offices
from router.storage.db import Database
from router.storage.models import AuditEntry, PhoneNumber

ROUNDS = 10
RACER = """
import os, sys, time
from router.cli.main import main
ready, go = sys.argv[1:3]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
sys.exit(main(sys.argv[3:]))
"""


def racer(ready: Path, go: Path, db_url: str, number: str, household: int) -> subprocess.Popen[str]:
    argv = ["--db", db_url, "--actor", f"racer{household}", "number", "link", number, str(household)]
    return subprocess.Popen(
        [sys.executable, "-c", RACER, str(ready), str(go), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_linking_one_number_leave_exactly_one_link(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    with db.unit_of_work() as s:
        offices.add_office(s, "msk", region="RU")
        offices.add_agent(s, "ivanova", office="msk", dial="PJSIP/101")
        first = households.add_household(s, owner="ivanova", actor="setup").id
        second = households.add_household(s, actor="setup").id
    paths: set[str] = set()
    for round_ in range(ROUNDS):
        number = f"+7916000{round_:04d}"
        go = tmp_path / f"go{round_}"
        ready = [tmp_path / f"ready{round_}-{hid}" for hid in (first, second)]
        procs = [racer(r, go, db_url, number, hid) for r, hid in zip(ready, (first, second), strict=True)]
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in ready) and time.monotonic() < deadline:
            time.sleep(0.01)
        go.touch()
        results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
        codes = sorted(code for code, _, _ in results)
        assert codes == [0, 4], results
        [(_, _, err)] = [r for r in results if r[0] == 4]
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith(f"error: number {number} ")
        with db.reader() as s:
            holders = s.scalars(select(PhoneNumber.household_id).where(PhoneNumber.number == number)).all()
            links = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.subject == number))
        assert len(holders) == 1
        assert links == 1
        [holder] = holders
        [winner_out] = [out for code, out, _ in results if code == 0]
        assert winner_out == f"{number} linked to household {holder}\n"
        if "belongs to household" in err:
            owner = "ivanova" if holder == first else "none"
            assert err == (
                f"error: number {number} belongs to household {holder} “without a name” (owner {owner}); "
                "use --move to move it\n"
            )
            paths.add("saw the link")
        else:
            paths.add("lost on the unique key")
            assert err == f"error: number {number} was linked by someone else at the same moment\n"
    print(f"{db.backend}: the loser {' / '.join(sorted(paths))}")
