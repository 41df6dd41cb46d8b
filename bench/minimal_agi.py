"""The simplest FastAGI peer, the yardstick Callkeeper is measured against:
`python -m bench.minimal_agi DB_PATH PORT`.

A thread per connection (socketserver), SQLite connections kept for reuse;
it reads the environment block, looks the caller up with one indexed SQLite
query (number -> household -> owner's dial string), sends one `EXEC Dial` (a
caller with no owner rings the next agent in turn) and ends the session when
the Dial returns. No decision, no claim, no ledger, no logging, no metrics:
what any FastAGI router costs at the least.
"""

from __future__ import annotations

import itertools
import socketserver
import sqlite3
import sys
import threading

OWNER_DIAL = (
    "SELECT a.dial FROM numbers n JOIN households h ON h.id = n.household_id "
    "JOIN agents a ON a.id = h.owner_id WHERE n.number = ?"
)
RING_SECONDS = 20


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port: int, db_path: str) -> None:
        self.db_path = db_path
        self.idle: list[sqlite3.Connection] = []  # connections kept for the next calls
        with sqlite3.connect(db_path) as conn:
            pool = [row[0] for row in conn.execute("SELECT dial FROM agents ORDER BY id")]
        self.pool = itertools.cycle(pool)
        self.pool_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Session)

    def owner_dial(self, caller: str) -> str:
        with self.pool_lock:
            conn = self.idle.pop() if self.idle else None
        if conn is None:
            conn = sqlite3.connect(self.db_path, check_same_thread=False)
        row = conn.execute(OWNER_DIAL, (caller,)).fetchone()
        with self.pool_lock:
            self.idle.append(conn)
            return str(row[0]) if row is not None else next(self.pool)


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        caller = ""
        while line := self.rfile.readline():
            if line in (b"\n", b"\r\n"):
                break
            key, _, value = line.decode("utf-8", "replace").partition(":")
            if key == "agi_callerid":
                caller = value.strip()
        dial = self.server.owner_dial(caller)
        self.wfile.write(f'EXEC Dial "{dial},{RING_SECONDS}"\n'.encode())
        self.wfile.flush()
        self.rfile.readline()


def main() -> int:
    db_path, port = sys.argv[1], int(sys.argv[2])
    with _Server(port, db_path) as server:
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
