"""Benchmark: Celery on our Kafka transport vs kombu's, Redis and the in-memory ceiling.

Run as ``python packages/tasks/bench/bench_transport.py --out FILE``. The Kafka
broker comes from ``KELERY_BENCH_KAFKA`` (else ``KELERY_TEST_KAFKA``). In one run,
on the same broker, it measures:

- publish: the rate of ``apply_async()`` for 1,000 tasks, until every message is
  confirmed by the broker (our transport: ``confirm_published``; kombu's flushes
  per message; Redis answers each push); 25 rounds, the columns taking turns in
  each. This machine is shared: one column's rate alone swings by a quarter from
  one round to the next, with nothing else changed. Short rounds taken in turn
  keep each comparison within a few seconds, so a burst of load from elsewhere
  hits both sides of a ratio alike, and 25 of them give a median that one burst
  cannot move. Both publish targets are medians of per-round ratios;
- execute: one real ``celery worker`` (solo pool) running 5,000 no-op tasks
  queued before it starts, timed from the first execution to the last; three rounds, a
  fresh worker each, the columns taking turns, the median counted. The in-memory
  column runs Celery's own test worker (the same ``WorkController``, solo pool) in
  a fresh process that also queues its tasks (``memory_floor.py``), since no other
  process can share an in-memory broker: Celery's cost per task with a transport
  that costs nothing, the floor under every column. (The in-memory publish rounds
  run here, and drop what they queued). Each execution also records its process's
  CPU time, so each column gets the worker's CPU per task, every thread counted:
  unlike the rate, that figure hardly moves when other load on the machine takes
  the CPU away, and over the in-memory column's it is what the transport costs;
- latency: publish -> execute of one task at a time on the idle worker;
- two queues: one solo worker started with ``-Q loaded,idle`` (its queue holds the
  5,000 tasks, the second is empty, as any worker serving several queues has at
  times). kombu's transport polls each queue in turn and blocks up to its
  ``wait_time_seconds`` (default 5 s) on the empty one, so its worker is stopped
  after a bounded window and rated on what it executed in it; kombu is also run
  with ``wait_time_seconds=0.1``, the tuning a kombu user would try;
- two workers (the Kafka columns): two solo workers on 5,000 queued tasks, held
  at a gate until both have a task (or the second has waited in vain), then
  released together; how many each ran, and first to last execution. kombu's
  transport has one partition per queue, so its second worker gets nothing.

Redis is Debian's ``redis-server`` started here on a free loopback port; when it
(or the ``redis`` Python package) is missing the column says why. Writes a
markdown fragment to ``--out`` and stdout.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from transport_bench_app import build  # noqa: E402

KINDS = ("kelery", "kombu", "redis", "memory")
TWO_WORKER_KINDS = ("kelery", "kombu")
LABELS = {
    "kelery": "Kelery `kelery+kafka://`",
    "kombu": "kombu `confluentkafka://`",
    "redis": "Redis (`redis-server`)",
    "memory": "in-memory `memory://` (ceiling)",
}
TASKS = 5000  # per execute round, two-queue and two-worker run
PUBLISH_TASKS = 1000  # per publish round
ROUNDS = 25
WARM_UP_ROUNDS = 3
GATE_S = 15.0
SETTLE_S = 2.0
EXTRA_BASE = 1_000_000
PUBLISH_OVER_KOMBU = 2.0  # the issue's: our publish rate over kombu's
EXECUTE_TARGET = 4.0  # the issue's: our execute rate over kombu's
EXECUTE_ROUNDS = 3
EXECUTE_BASE = 3_000_000
WAIT_S = 900.0
TWO_QUEUE_WINDOW_S = 30.0
TWO_QUEUE_BASE = 2_000_000
KOMBU_TUNED_WAIT_S = 0.1


class NotMeasuredError(Exception):
    """A column that could not be measured here, and why."""


@dataclass
class TwoQueueRun:
    """What one worker reading a loaded and an idle queue executed, and in how long.

    ``finished``: it ran all the tasks (timed first to last execution); otherwise it
    was stopped ``seconds`` after its first execution.
    """

    label: str
    executed: int
    seconds: float
    finished: bool

    @property
    def rate(self) -> float | None:
        return self.executed / self.seconds if self.seconds > 0 else None


@dataclass
class Column:
    kind: str
    publish_rates: list[float] = field(default_factory=list)
    consume_runs: list[float] = field(default_factory=list)
    consume_cpu: list[float] = field(default_factory=list)  # worker CPU s per task, per round
    latencies_ms: list[float] = field(default_factory=list)
    two_workers_seconds: float | None = None
    two_workers_counts: list[int] = field(default_factory=list)
    two_workers_duplicates: int = 0
    two_queues: list[TwoQueueRun] = field(default_factory=list)

    @property
    def publish_rate(self) -> float | None:
        return statistics.median(self.publish_rates) if self.publish_rates else None

    @property
    def consume_seconds(self) -> float | None:
        return statistics.median(self.consume_runs) if self.consume_runs else None

    @property
    def consume_rate(self) -> float | None:
        if self.consume_seconds is None or self.consume_seconds <= 0:
            return None
        return TASKS / self.consume_seconds

    @property
    def cpu_us_per_task(self) -> float | None:
        """The worker's CPU per task (every thread), median over the execute rounds, in µs."""
        return statistics.median(self.consume_cpu) * 1e6 if self.consume_cpu else None

    @property
    def two_workers_rate(self) -> float | None:
        if self.two_workers_seconds is None or self.two_workers_seconds <= 0:
            return None
        return TASKS / self.two_workers_seconds


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Executions:
    """The executions a benchmark task recorded in its file, read incrementally.

    Each line is ``<wall time> <task number> <pid> <process CPU time>``; the file is
    tailed rather than re-read, so waiting for 5,000 tasks costs the workers no CPU
    worth measuring.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self.first: dict[int, float] = {}
        self.cpu: dict[int, tuple[str, float]] = {}
        self.by_pid: Counter[str] = Counter()
        self.runs = 0

    def refresh(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            parts = line.split()
            if len(parts) < 3:
                continue
            n = int(parts[1])
            self.first.setdefault(n, float(parts[0]))
            if len(parts) > 3:
                self.cpu.setdefault(n, (parts[2].decode(), float(parts[3])))
            if n >= 0:
                self.runs += 1
                self.by_pid[parts[2].decode()] += 1

    def count(self, predicate: Callable[[int], bool]) -> int:
        self.refresh()
        return sum(1 for n in self.first if predicate(n))

    def span(self, predicate: Callable[[int], bool]) -> float:
        times = [t for n, t in self.first.items() if predicate(n)]
        return max(times) - min(times)

    def cpu_per_task(self, predicate: Callable[[int], bool]) -> float | None:
        """CPU seconds the one executing process spent per task, first to last execution.

        None if the tasks ran in more than one process (their CPU clocks differ).
        """
        runs = [self.cpu[n] for n in self.first if predicate(n) and n in self.cpu]
        if len(runs) < 2 or len({pid for pid, _ in runs}) != 1:
            return None
        clocks = [clock for _, clock in runs]
        return (max(clocks) - min(clocks)) / (len(runs) - 1)


def is_bench_task(n: int) -> bool:
    return 0 <= n < TASKS


class Worker:
    """A real solo-pool ``celery worker`` for one column, stopped on exit."""

    def __init__(self, env: dict[str, str], log: Path, queues: list[str] | None = None) -> None:
        select = ["--queues", ",".join(queues)] if queues else []
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "transport_bench_app",
                    "worker",
                    "--pool=solo",
                    "--without-mingle",
                    "--without-gossip",
                    "--without-heartbeat",
                    "--loglevel=WARNING",
                    *select,
                ],
                cwd=HERE,
                env={**os.environ, **env, "PYTHONPATH": str(HERE)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


class Redis:
    """Debian's redis-server on a free loopback port, without persistence."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise NotMeasuredError("redis-server is not installed (apt-get install redis-server)")
        try:
            import redis  # noqa: F401, PLC0415
        except ImportError as exc:
            raise NotMeasuredError("the `redis` Python package is not installed") from exc
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise NotMeasuredError("redis-server did not start") from None
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def wait_for(done: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what}")
        time.sleep(0.02)


class Side:
    """One column's broker, Celery app and execution record, for the whole run."""

    def __init__(self, kind: str, bootstrap: str, workdir: Path) -> None:
        self.kind = kind
        self.workdir = workdir
        run = uuid.uuid4().hex[:8]
        self.queue = f"bench-{run}"
        self.record = workdir / f"{kind}-executions.txt"
        self.env = {
            "KTB_KIND": kind,
            "KTB_KAFKA": bootstrap,
            "KTB_PREFIX": f"bench-{run}.",
            "KTB_QUEUE": self.queue,
            "KTB_RECORD": str(self.record),
        }
        self.redis = Redis(workdir) if kind == "redis" else None
        if self.redis is not None:
            self.env["KTB_REDIS"] = self.redis.url
        self.app = build(self.env)
        self.noop: Any = self.app.tasks["bench.noop"]
        self.executions = Executions(self.record)
        self.column = Column(kind)

    def settle(self) -> None:
        """Wait until published messages are confirmed, where the transport defers that."""
        if self.kind == "kelery":
            from kelery.tasks.transport import confirm_published  # noqa: PLC0415

            confirm_published(60)

    def warm_up(self) -> None:
        """Connection, topic creation, first metadata: paid before any clock starts."""
        for _ in range(20):
            self.noop.delay(-1)
            self.noop.apply_async((-1,), queue=self.queue + "-extra")
        self.settle()

    def publish_round(self, queue: str, first: int, count: int = PUBLISH_TASKS) -> float:
        """Publish tasks ``first``.. (``count`` of them) to ``queue``; tasks/s, confirmed."""
        start = time.perf_counter()
        for n in range(first, first + count):
            self.noop.apply_async((n,), queue=queue)
        self.settle()
        rate = count / (time.perf_counter() - start)
        if self.kind == "memory":
            # nothing in this process reads them (its worker runs in memory_floor.py), so
            # they are dropped rather than kept, round after round, on this process's heap
            with self.app.connection_for_write() as conn:
                conn.default_channel.queue_purge(queue)
        return rate

    def execute(self, round_: int, samples: int) -> None:
        """One worker runs TASKS queued tasks, timed; after the last round, single-task latency.

        Each round first queues its TASKS tasks (numbered from EXECUTE_BASE, untimed).
        """
        base = EXECUTE_BASE + round_ * TASKS

        def mine(n: int) -> bool:
            return base <= n < base + TASKS

        def all_ran() -> bool:
            return self.executions.count(mine) >= TASKS

        if self.kind == "memory":
            self._memory_floor(base, [self.queue])
            wait_for(all_ran, "the tasks")  # done already: this reads their record
            self._count_execute(mine)
            return
        for n in range(base, base + TASKS):
            self.noop.apply_async((n,), queue=self.queue)
        self.settle()
        worker = Worker(self.env, self.workdir / f"{self.kind}-worker-{round_}.log")
        try:
            wait_for(all_ran, "the tasks")
            self._count_execute(mine)
            if round_ == EXECUTE_ROUNDS - 1:
                self._latency(samples)
        finally:
            worker.stop()

    def _count_execute(self, mine: Callable[[int], bool]) -> None:
        """Note one execute round's time, and its worker's CPU per task when one process ran it."""
        self.column.consume_runs.append(self.executions.span(mine))
        cpu = self.executions.cpu_per_task(mine)
        if cpu is not None:
            self.column.consume_cpu.append(cpu)

    def _memory_floor(self, base: int, queues: list[str]) -> None:
        """Queue TASKS tasks from ``base`` and run them all in ``memory_floor.py``."""
        subprocess.run(
            [
                sys.executable,
                str(HERE / "memory_floor.py"),
                "--base",
                str(base),
                "--count",
                str(TASKS),
                "--queues",
                ",".join(queues),
            ],
            cwd=HERE,
            env={**os.environ, **self.env, "PYTHONPATH": str(HERE)},
            check=True,
            timeout=WAIT_S,
        )

    def _latency(self, samples: int) -> None:
        say(f"[{self.kind}] latency, {samples} single tasks on the idle worker")
        for i in range(samples):
            n = 10_000_000 + i
            sent = time.time()
            self.noop.delay(n)
            wait_for(
                lambda n=n: self.executions.count(lambda m: m == n) > 0,
                f"task {n}",
                timeout=120,
            )
            self.column.latencies_ms.append((self.executions.first[n] - sent) * 1000)

    def two_queues(self, base: int, label: str, worker_env: dict[str, str] | None = None) -> None:
        """One worker on a queue holding TASKS tasks and an idle queue (``-Q loaded,idle``).

        Tasks are numbered from ``base``; the worker is stopped once it ran them all
        or TWO_QUEUE_WINDOW_S after its first execution, whichever comes first.
        """
        loaded, idle = f"{self.queue}-loaded-{base}", f"{self.queue}-idle-{base}"
        if self.kind != "memory":
            for n in range(base, base + TASKS):
                self.noop.apply_async((n,), queue=loaded)
            self.settle()

        def mine(n: int) -> bool:
            return base <= n < base + TASKS

        def run_until_done_or_window() -> tuple[int, float]:
            deadline = time.monotonic() + WAIT_S
            stop_at: float | None = None
            while (executed := self.executions.count(mine)) < TASKS:
                now = time.monotonic()
                if stop_at is None and executed:
                    stop_at = now + TWO_QUEUE_WINDOW_S
                if (stop_at is not None and now > stop_at) or now > deadline:
                    break
                time.sleep(0.05)
            return executed, time.time()

        if self.kind == "memory":
            self._memory_floor(base, [loaded, idle])
            executed, stopped = run_until_done_or_window()
        else:
            env = {**self.env, **(worker_env or {})}
            worker = Worker(env, self.workdir / f"{self.kind}-{base}.log", [loaded, idle])
            try:
                executed, stopped = run_until_done_or_window()
            finally:
                worker.stop()
        finished = executed >= TASKS
        if finished:
            seconds = self.executions.span(mine)
        elif executed:
            seconds = stopped - min(t for n, t in self.executions.first.items() if mine(n))
        else:
            seconds = 0.0
        self.column.two_queues.append(TwoQueueRun(label, executed, seconds, finished))

    def two_workers(self) -> None:
        """Two workers on a fresh queue of TASKS tasks, released together once both hold one.

        Each worker's first task waits at a gate (a file) and marks its worker ready,
        so the clock starts only when the group has settled: both workers hold
        partitions, or the second got none in GATE_S (kombu's one partition).
        """
        queue = self.queue + "-two"
        record = self.workdir / f"{self.kind}-two-workers.txt"
        gate = self.workdir / f"{self.kind}-gate"
        for n in range(TASKS):
            self.noop.apply_async((n,), queue=queue)
        self.settle()
        env = {**self.env, "KTB_QUEUE": queue, "KTB_RECORD": str(record), "KTB_GATE": str(gate)}
        executions = Executions(record)
        workers = [Worker(env, self.workdir / f"{self.kind}-two-{i}.log") for i in range(2)]

        def ready() -> int:
            return len(list(self.workdir.glob(f"{gate.name}.ready.*")))

        try:
            wait_for(lambda: ready() >= 1, "a worker to take a task")
            deadline = time.monotonic() + GATE_S
            while ready() < len(workers) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(SETTLE_S)  # the rebalance that made the second ready completes
            gate.touch()
            wait_for(lambda: executions.count(is_bench_task) >= TASKS, "the tasks (two workers)")
            time.sleep(1.0)  # a duplicate after a rebalance may still be on its way
            executions.refresh()
        finally:
            for worker in workers:
                worker.stop()
        pids = [str(worker.process.pid) for worker in workers]
        self.column.two_workers_counts = [executions.by_pid.get(pid, 0) for pid in pids]
        self.column.two_workers_duplicates = executions.runs - executions.count(is_bench_task)
        self.column.two_workers_seconds = executions.span(is_bench_task)

    def close(self) -> None:
        self.app.pool.force_close_all()
        if self.redis is not None:
            self.redis.stop()


def in_turn(sides: list[Side], round_: int) -> list[Side]:
    """The sides in this round's order: each round starts one further along."""
    shift = round_ % len(sides)
    return sides[shift:] + sides[:shift]


def bench_kafka() -> str | None:
    """The broker ``nox -s bench`` started (or ``KELERY_TEST_KAFKA``), if any."""
    return os.environ.get("KELERY_BENCH_KAFKA") or os.environ.get("KELERY_TEST_KAFKA")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fmt(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def rate_of(col: Column | str, attr: str) -> float | None:
    """A measured figure of a column, or None for a column not measured."""
    return None if isinstance(col, str) else getattr(col, attr)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def round_ratios(ours: Column | str, theirs: Column | str) -> list[float]:
    """Publish rate over ``theirs`` round by round (the rounds were taken in turn)."""
    if isinstance(ours, str) or isinstance(theirs, str):
        return []
    return [a / b for a, b in zip(ours.publish_rates, theirs.publish_rates, strict=True) if b]


def spread(values: list[float], show: Callable[[float], str]) -> str:
    """``median | quartiles | range`` cells of a table row."""
    low, _, high = statistics.quantiles(values, n=4) if len(values) > 1 else (values * 3)
    return (
        f"{show(statistics.median(values))} | {show(low)} to {show(high)} "
        f"| {show(min(values))} to {show(max(values))}"
    )


def cpu_verdict(ours: Column | str, kombu: Column | str, memory: Column | str) -> list[str]:
    """What the workers' CPU per task says of the one-queue execute target, if measured."""
    mine, theirs, floor = (rate_of(col, "cpu_us_per_task") for col in (ours, kombu, memory))
    kombu_rate = rate_of(kombu, "consume_rate")
    if mine is None or theirs is None or floor is None or not kombu_rate:
        return []
    budget = 1e6 / (EXECUTE_TARGET * kombu_rate)
    return [
        "",
        f"Worker CPU per task, one queue: Kelery {mine:,.0f} µs, kombu {theirs:,.0f} µs, "
        f"Celery's in-memory worker {floor:,.0f} µs. A Kafka transport's cost is what its "
        f"worker spends over the in-memory one: {mine - floor:,.0f} µs per task for Kelery's, "
        f"{theirs - floor:,.0f} µs for kombu's. Executing at {EXECUTE_TARGET:.0f}x kombu's "
        f"rate means a task every {budget:,.0f} µs, while Celery's own work per task, which "
        f"a solo worker does on one thread, takes {floor:,.0f} µs of CPU with no broker at all"
        + (": more than that budget." if floor > budget else ", within that budget."),
    ]


def render(columns: dict[str, Column | str], samples: int) -> str:
    lines = [
        "## Celery on Kafka: Kelery's transport vs kombu's, Redis, in-memory",
        "",
        f"One run, one broker. Publish: `apply_async()` of {PUBLISH_TASKS:,} tasks until the "
        f"broker confirmed all of them; {WARM_UP_ROUNDS} untimed rounds (the broker's JVM warms "
        f"up), then {ROUNDS} timed rounds, the columns taking turns within each round "
        "(table: median; short rounds in turn, because this shared machine moves one "
        "column's rate by a quarter from round to round). Execute: one "
        f"`celery worker --pool=solo` running {TASKS:,} "
        "queued no-op tasks (first to last execution), started afresh for each of "
        f"{EXECUTE_ROUNDS} rounds, the columns taking turns (table: median); for in-memory, "
        "Celery's own test worker (same `WorkController`, solo pool) in a fresh process "
        "that queued the tasks itself, which is Celery's cost per task over a transport "
        "that costs nothing. Worker CPU per task: the worker process's CPU time (every "
        "thread, librdkafka's included) from the first execution to the last, over the "
        "tasks between (median of rounds). "
        "Latency: publish → "
        f"execute of a single task on the idle worker ({samples} samples, fewer for kombu's).",
        "",
        "| broker | publish (tasks/s) | execute 5,000 (s) | execute (tasks/s) "
        "| worker CPU per task (µs) | latency p50 (ms) | latency p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in KINDS:
        col = columns[kind]
        if isinstance(col, str):
            lines.append(f"| {LABELS[kind]} | not measured: {col} | | | | | |")
            continue
        lat = col.latencies_ms
        lines.append(
            f"| {LABELS[kind]} | {fmt(col.publish_rate)} | {fmt(col.consume_seconds, 2)} "
            f"| {fmt(col.consume_rate)} | {fmt(col.cpu_us_per_task)} "
            f"| {fmt(pct(lat, 0.5) if lat else None, 1)} "
            f"| {fmt(pct(lat, 0.99) if lat else None, 1)} |"
        )
    ours, kombu, memory = columns["kelery"], columns["kombu"], columns["memory"]

    over_memory = round_ratios(ours, memory)
    over_kombu = round_ratios(ours, kombu)
    published = [c for k in KINDS if isinstance(c := columns[k], Column) and c.publish_rates]
    if published:
        lines += [
            "",
            f"Publish rounds ({ROUNDS} per column, {PUBLISH_TASKS:,} tasks each), and Kelery's "
            "rate over a column's in the same round:",
            "",
            "| side | median | quartiles | range |",
            "|---|---:|---:|---:|",
        ]
        for col in published:
            lines.append(f"| {LABELS[col.kind]} (tasks/s) | {spread(col.publish_rates, fmt)} |")
        if over_memory:
            shown = spread(over_memory, lambda r: f"{r * 100:.0f}%")
            lines.append(f"| Kelery / in-memory, per round | {shown} |")
        if over_kombu:
            shown = spread(over_kombu, lambda r: f"{r:.2f}x")
            lines.append(f"| Kelery / kombu, per round | {shown} |")
    measured = [c for k in KINDS if isinstance(c := columns[k], Column) and c.consume_runs]
    if measured:
        lines += [
            "",
            f"Execute rounds (tasks/s, {TASKS:,} tasks each), in the order measured:",
            "",
            "| side | " + " | ".join(f"round {i + 1}" for i in range(EXECUTE_ROUNDS)) + " |",
            "|---|" + "---:|" * EXECUTE_ROUNDS,
        ]
        for col in measured:
            rates = " | ".join(fmt(TASKS / t if t > 0 else None) for t in col.consume_runs)
            lines.append(f"| {LABELS[col.kind]} | {rates} |")

    two = [c for k in TWO_WORKER_KINDS if isinstance(c := columns[k], Column)]
    if any(c.two_workers_counts for c in two):
        lines += [
            "",
            f"Two solo workers on {TASKS:,} queued tasks, released together {SETTLE_S:.0f} s "
            f"after both hold a task or the second has had none for {GATE_S:.0f} s (first to "
            "last execution; a task run twice after a rebalance is a duplicate). Held that "
            "long, a Kelery worker pauses its partitions (its Celery is busy) and resumes "
            "them when released, as after any long task; its time includes that resume:",
            "",
            "| broker | worker 1 ran | worker 2 ran | duplicates | seconds | tasks/s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for col in two:
            if col.two_workers_counts:
                a, b = col.two_workers_counts
                lines.append(
                    f"| {LABELS[col.kind]} | {a:,} | {b:,} | {col.two_workers_duplicates:,} "
                    f"| {fmt(col.two_workers_seconds, 2)} | {fmt(col.two_workers_rate)} |"
                )
        both = _ratio(rate_of(ours, "two_workers_rate"), rate_of(kombu, "two_workers_rate"))
        if both is not None:
            lines += [
                "",
                f"With two workers, ours executes at {both:.1f}x kombu's two-worker rate "
                "(for information; the target below is the one-worker figure).",
            ]

    runs = [run for k in KINDS if isinstance(c := columns[k], Column) for run in c.two_queues]
    if runs:
        lines += [
            "",
            f"One solo worker started with `-Q loaded,idle`: {TASKS:,} tasks queued on the "
            "first queue, none on the second, as a worker serving several queues has at "
            f"times. Stopped when it ran them all, or {TWO_QUEUE_WINDOW_S:.0f} s after its "
            "first execution (rated on what it executed by then):",
            "",
            "| broker | executed | seconds | tasks/s | |",
            "|---|---:|---:|---:|---|",
        ]
        for run in runs:
            note = "all, first to last" if run.finished else "stopped"
            lines.append(
                f"| {run.label} | {run.executed:,} | {fmt(run.seconds, 2)} "
                f"| {fmt(run.rate, 1)} | {note} |"
            )
        lines += [
            "",
            "kombu's transport reads one queue per `poll(wait_time_seconds)`, queue after "
            "queue, so every turn blocks on the idle queue; Kelery's consumer thread reads "
            "every queue's topic in one subscription.",
        ]

    lines += ["", "| target | measured | result |", "|---|---:|---|"]

    def target(name: str, ratio: float | None, goal: float, unit: str = "x") -> None:
        if ratio is None:
            lines.append(f"| {name} | not measured | — |")
            return
        # Rounded down, so that a figure under its goal never reads as the goal
        # (1.996x printed as 2.00x beside FAIL).
        if unit == "%":
            shown = f"{math.floor(ratio * 1000 + 1e-9) / 10:.1f}%"
        elif ratio < 10:
            shown = f"{math.floor(ratio * 100 + 1e-9) / 100:.2f}x"
        else:
            shown = f"{ratio:.1f}x"
        lines.append(f"| {name} | {shown} | {'pass' if ratio >= goal else 'FAIL'} |")

    target(
        "our publish ≥ 85% of in-memory (median of per-round ratios)",
        statistics.median(over_memory) if over_memory else None,
        0.85,
        "%",
    )
    target(
        "our publish ≥ 2x kombu's (median of per-round ratios)",
        statistics.median(over_kombu) if over_kombu else None,
        PUBLISH_OVER_KOMBU,
    )
    target(
        "our execute ≥ 4x kombu's, worker on one queue",
        _ratio(rate_of(ours, "consume_rate"), rate_of(kombu, "consume_rate")),
        EXECUTE_TARGET,
    )
    if isinstance(ours, Column) and isinstance(kombu, Column) and ours.two_queues:
        for theirs in kombu.two_queues:
            target(
                f"our execute ≥ 4x {theirs.label}, worker on two queues (one idle)",
                _ratio(ours.two_queues[0].rate, theirs.rate),
                EXECUTE_TARGET,
            )
    if isinstance(ours, Column) and ours.latencies_ms:
        p99 = pct(ours.latencies_ms, 0.99)
        verdict = "pass" if p99 < 100 else "FAIL"
        lines.append(f"| our publish→execute p99 < 100 ms | {p99:.1f} ms | {verdict} |")
    ceilings = round_ratios(memory, kombu)
    if ceilings:
        ceiling = statistics.median(ceilings)
        verdict = (
            "no transport can publish faster than that ceiling, so the 2x target is out of "
            "reach on this machine in this run (Celery's own cost per `apply_async()` weighs "
            "more here against kombu's flush per message)"
            if ceiling < PUBLISH_OVER_KOMBU
            else "the ceiling leaves room for the 2x target"
        )
        lines += [
            "",
            f"The in-memory ceiling publishes at {ceiling:.1f}x kombu's rate in this run "
            f"(median of per-round ratios): "
            f"{verdict}.",
        ]
    lines += cpu_verdict(ours, kombu, memory)
    floor = _ratio(rate_of(memory, "consume_rate"), rate_of(kombu, "consume_rate"))
    if floor is not None:
        verdict = (
            "with one solo worker on one queue, Celery's own cost per task is most of every "
            "column's, so the one-queue 4x target cannot be met by a transport alone"
            if floor < EXECUTE_TARGET
            else "the floor leaves room for the 4x target"
        )
        lines += [
            "",
            f"Celery's in-memory worker, whose transport costs nothing, executes at "
            f"{floor:.1f}x kombu's rate in this run: {verdict}.",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the markdown")
    parser.add_argument("--samples", type=int, default=30, help="latency samples per column")
    args = parser.parse_args()
    bootstrap = bench_kafka()
    if not bootstrap:
        parser.error("set KELERY_BENCH_KAFKA (or KELERY_TEST_KAFKA) to a Kafka broker")
    columns: dict[str, Column | str] = {}
    sides: dict[str, Side] = {}
    with tempfile.TemporaryDirectory(prefix="kelery-bench-transport-") as tmp:
        workdir = Path(tmp)
        try:
            for kind in KINDS:
                try:
                    sides[kind] = Side(kind, bootstrap, workdir)
                except NotMeasuredError as exc:
                    columns[kind] = str(exc)
            for side in sides.values():
                side.warm_up()
            say(
                f"publishing {PUBLISH_TASKS} tasks per side, {WARM_UP_ROUNDS} untimed and "
                f"{ROUNDS} timed rounds, sides taking turns"
            )
            for round_ in range(-WARM_UP_ROUNDS, ROUNDS):
                for side in in_turn(list(sides.values()), round_):
                    # to a queue nobody reads, numbered apart from the tasks workers run
                    rate = side.publish_round(side.queue + "-extra", EXTRA_BASE)
                    if round_ >= 0:
                        side.column.publish_rates.append(rate)
            for round_ in range(EXECUTE_ROUNDS):
                for side in in_turn(list(sides.values()), round_):
                    samples = max(5, args.samples // 3) if side.kind == "kombu" else args.samples
                    say(f"[{side.kind}] execute round {round_ + 1}: one solo worker")
                    side.execute(round_, samples)
            for kind, side in sides.items():
                say(f"[{kind}] one worker reads a loaded queue and an idle one")
                if kind != "kombu":
                    side.two_queues(TWO_QUEUE_BASE, LABELS[kind])
                    continue
                side.two_queues(TWO_QUEUE_BASE, f"{LABELS[kind]}, `wait_time_seconds` 5 (default)")
                side.two_queues(
                    TWO_QUEUE_BASE + TASKS,
                    f"{LABELS[kind]}, `wait_time_seconds` {KOMBU_TUNED_WAIT_S}",
                    {"KTB_KOMBU_WAIT": str(KOMBU_TUNED_WAIT_S)},
                )
            for kind in TWO_WORKER_KINDS:
                if kind in sides:
                    say(f"[{kind}] two workers share a fresh queue")
                    sides[kind].two_workers()
        finally:
            for side in sides.values():
                side.close()
        columns.update({kind: side.column for kind, side in sides.items()})
    text = render(columns, args.samples)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
