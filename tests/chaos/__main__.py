"""`python -m tests.chaos [--jobs N] [--kills K]` — `make chaos`: close N jobs, send every draft
and pay a share while processes die by kill -9, the broker and PostgreSQL restart; print the
tally and exit 1 on any miss."""

from __future__ import annotations

import argparse
import signal
import sys
import time

from shared.devstack import infra
from tests.chaos.run import run
from tests.chaos.workload import Plan


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=20, help="at least this many kill -9s")
    parser.add_argument("--every", type=float, default=4.0, help="seconds between kill -9s")
    parser.add_argument("--workers", type=int, default=12, help="users working at once")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--minutes", type=float, default=None, help="start no job after this")
    args = parser.parse_args()
    # Stopped (Ctrl-C, kill): unwind like an error, so every process, the broker and the database
    # are stopped on the way out instead of left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    home = infra.ROOT / "var" / "chaos"
    outcome = run(
        Plan(args.jobs, args.workers, args.minutes), home, args.kills, args.every, args.seed
    )
    print(outcome.table(), flush=True)
    print(f"logs: {home}/logs", flush=True)
    return 0 if outcome.holds else 1


if __name__ == "__main__":
    sys.exit(main())
