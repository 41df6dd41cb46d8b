"""`make console`'s first step: a demo admin on the demo database, with a fresh password printed.

Only a hash of a password is stored, so an existing demo admin gets a new
password each time rather than the old one shown again.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from router.accounts import users
from router.config import Settings
from router.storage.db import Database

LOGIN = "demo-admin"


def ensure_demo_admin(db: Database) -> str:
    """Create the demo admin, or give them a new password; returns the password."""
    password = secrets.token_urlsafe(9)
    with db.unit_of_work() as s:
        if users.find_user(s, LOGIN) is None:
            users.add_user(s, LOGIN, role="admin", password=password, actor="make console")
        else:
            users.set_disabled(s, LOGIN, False, actor="make console")
            users.set_password(s, LOGIN, password, actor="make console")
    return password


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web.demo_admin", description=__doc__)
    parser.add_argument("file", type=Path, help="the demo database (`make demo` writes callkeeper-demo.db)")
    parser.add_argument("--listen", default=Settings.web_listen, metavar="HOST:PORT")
    args = parser.parse_args(argv)
    if not args.file.is_file():
        print(f"error: {args.file} does not exist: run `make demo` first", file=sys.stderr)
        return 3
    db = Database(f"sqlite:///{args.file.resolve()}")
    try:
        db.upgrade()
        password = ensure_demo_admin(db)
    finally:
        db.dispose()
    print(f"The console on the demo database {args.file}:")
    print(f"  open     http://{args.listen}/")
    print(f"  login    {LOGIN}")
    print(f"  password {password}")
    print("Stop it with Ctrl-C.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
