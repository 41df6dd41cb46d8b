"""Run the benchmarks: `python -m bench [NAME ...] [--size N]`.

Each benchmark module lives beside this file and exposes `run(size, pg_url)`;
it prints its own figures. PostgreSQL figures need CALLKEEPER_BENCH_PG (a URL
of a database the benchmark may fill and empty).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time

BENCHES = [
    "directory",
    "decision",
    "suggest",
    "callfront",
    "evidence",
    "faults",
    "leads",
    "console",
    "asterisk",
]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"which benchmarks (default: all of {', '.join(BENCHES)})"
    )
    parser.add_argument(
        "--size",
        type=int,
        default=1_000_000,
        help="households in the benchmark directory (default 1,000,000)",
    )
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(BENCHES))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    pg_url = os.environ.get("CALLKEEPER_BENCH_PG") or None
    # The servers the benchmarks drive log every failed-open call; the
    # figures count those, so only errors are shown.
    logging.basicConfig(level=logging.ERROR)
    for name in args.names or BENCHES:
        started = time.perf_counter()
        print(f"== {name} ==", flush=True)
        importlib.import_module(f"bench.{name}").run(args.size, pg_url)
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
