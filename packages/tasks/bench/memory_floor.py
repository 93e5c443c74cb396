"""Celery's floor: queue tasks on ``memory://`` and run them in Celery's test worker.

An in-memory broker lives inside one process, so its worker cannot be a separate
``celery worker`` as the other columns' are; run inside the benchmark process it
would share that process's threads (every column's Kafka client) and heap (every
round's published messages), which made it slower than the real workers it is
meant to bound. So it gets a fresh process of its own: this script publishes
``--count`` tasks numbered from ``--base`` to the first of ``--queues``, starts
Celery's own test worker (the same ``WorkController``, solo pool) on all of
them, and exits once every task has recorded its execution in ``KTB_RECORD``.

Run as ``python memory_floor.py --base 0 --count 5000 --queues q1[,q2]`` with the
benchmark app's ``KTB_*`` environment (``KTB_KIND=memory``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench_transport import Executions
from celery.contrib.testing.worker import start_worker
from transport_bench_app import build

WAIT_S = 900.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, required=True, help="number of the first task")
    parser.add_argument("--count", type=int, required=True, help="how many tasks to run")
    parser.add_argument("--queues", required=True, help="comma-separated; tasks go to the first")
    args = parser.parse_args()
    queues = args.queues.split(",")
    first, end = args.base, args.base + args.count
    executions = Executions(Path(os.environ["KTB_RECORD"]))  # tailed: costs the worker little
    app = build(dict(os.environ))
    noop = app.tasks["bench.noop"]
    for n in range(args.base, args.base + args.count):
        noop.apply_async((n,), queue=queues[0])
    deadline = time.monotonic() + WAIT_S
    with start_worker(
        app, pool="solo", perform_ping_check=False, loglevel="WARNING", queues=queues
    ):
        while executions.count(lambda n: first <= n < end) < args.count:
            if time.monotonic() > deadline:
                print(f"memory_floor: tasks still unexecuted after {WAIT_S:.0f} s", file=sys.stderr)
                return 1
            time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
