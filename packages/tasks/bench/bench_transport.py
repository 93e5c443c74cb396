"""Benchmark: Celery on our Kafka transport vs kombu's, Redis and the in-memory ceiling.

Run as ``python packages/tasks/bench/bench_transport.py --out FILE``. The Kafka
broker comes from ``KELERY_BENCH_KAFKA`` (else ``KELERY_TEST_KAFKA``). In one run,
on the same broker, for each column it measures:

- publish: the rate of ``apply_async()`` for 5,000 tasks, until every message is
  confirmed by the broker, median of three rounds (our transport:
  ``confirm_published``; kombu's flushes per message; Redis answers each push);
- consume: one real ``celery worker`` (solo pool) executing the 5,000 no-op tasks
  already queued: time from the first execution to the last;
- latency: publish -> execute of one task at a time on the idle worker.

Redis is Debian's ``redis-server`` started here on a free loopback port; when it
(or the ``redis`` Python package) is missing the column says why. Writes a
markdown fragment to ``--out`` and stdout.
"""

from __future__ import annotations

import argparse
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
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from transport_bench_app import build  # noqa: E402

KINDS = ("kelery", "kombu", "redis", "memory")
LABELS = {
    "kelery": "Kelery `kelery+kafka://`",
    "kombu": "kombu `confluentkafka://`",
    "redis": "Redis (`redis-server`)",
    "memory": "in-memory `memory://` (ceiling)",
}
WAIT_S = 900.0


class NotMeasuredError(Exception):
    """A column that could not be measured here, and why."""


@dataclass
class Column:
    kind: str
    publish_rate: float | None = None
    consume_seconds: float | None = None
    latencies_ms: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def consume_rate(self) -> float | None:
        if self.consume_seconds is None or self.consume_seconds <= 0:
            return None
        return TASKS / self.consume_seconds


TASKS = 5000
ROUNDS = 3


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_records(path: Path) -> dict[int, float]:
    """``n -> execution time`` of every recorded task (the first run of each)."""
    out: dict[int, float] = {}
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2:
            out.setdefault(int(parts[1]), float(parts[0]))
    return out


class Worker:
    """A real solo-pool ``celery worker`` for one column, stopped on exit."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
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


def wait_for(done: object, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not done():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what}")
        time.sleep(0.002)


def measure(kind: str, bootstrap: str, workdir: Path, samples: int) -> Column:
    column = Column(kind)
    run = uuid.uuid4().hex[:8]
    record = workdir / f"{kind}-executions.txt"
    env = {
        "KTB_KIND": kind,
        "KTB_KAFKA": bootstrap,
        "KTB_PREFIX": f"bench-{run}.",
        "KTB_QUEUE": f"bench-{run}",
        "KTB_RECORD": str(record),
    }
    redis = Redis(workdir) if kind == "redis" else None
    if redis is not None:
        env["KTB_REDIS"] = redis.url
    app = build(env)
    noop = app.tasks["bench.noop"]
    worker = None
    try:
        for _ in range(20):  # warm up: connection, topic creation, first metadata
            noop.delay(-1)
            noop.apply_async((-1,), queue=env["KTB_QUEUE"] + "-extra")
        settle(kind)
        say(f"[{kind}] publishing {TASKS} tasks, {ROUNDS} rounds")
        rates = []
        for round_ in range(ROUNDS):
            # round 0 fills the worker's queue; later rounds go to a queue nobody reads
            queue = env["KTB_QUEUE"] if round_ == 0 else env["KTB_QUEUE"] + "-extra"
            start = time.perf_counter()
            for n in range(TASKS):
                noop.apply_async((n,), queue=queue)
            settle(kind)
            rates.append(TASKS / (time.perf_counter() - start))
        column.publish_rate = statistics.median(rates)
        if kind == "memory":
            column.note = "publish only (no worker can share an in-memory broker)"
            return column
        say(f"[{kind}] one solo worker executes them")
        worker = Worker(env, workdir / f"{kind}-worker.log")
        wait_for(lambda: len([n for n in read_records(record) if n >= 0]) >= TASKS, "the tasks")
        times = [t for n, t in read_records(record).items() if n >= 0]
        column.consume_seconds = max(times) - min(times)
        say(f"[{kind}] latency, {samples} single tasks on the idle worker")
        for i in range(samples):
            n = 10_000_000 + i
            sent = time.time()
            noop.delay(n)
            wait_for(lambda n=n: n in read_records(record), f"task {n}", timeout=120)
            column.latencies_ms.append((read_records(record)[n] - sent) * 1000)
        return column
    finally:
        if worker is not None:
            worker.stop()
        app.pool.force_close_all()
        if redis is not None:
            redis.stop()


def settle(kind: str) -> None:
    """Wait until published messages are confirmed, where the transport defers that."""
    if kind == "kelery":
        from kelery.tasks.transport import confirm_published  # noqa: PLC0415

        confirm_published(60)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fmt(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def render(columns: dict[str, Column | str], samples: int) -> str:
    lines = [
        "## Celery on Kafka: Kelery's transport vs kombu's, Redis, in-memory",
        "",
        f"One run, one broker. Publish: `apply_async()` of {TASKS:,} tasks until the broker "
        f"confirmed all of them (median of {ROUNDS} rounds). Execute: one "
        f"`celery worker --pool=solo` running those {TASKS:,} no-op tasks (first to last "
        "execution). Latency: publish → execute of a single task on the idle worker "
        f"({samples} samples, fewer for kombu's).",
        "",
        "| broker | publish (tasks/s) | execute 5,000 (s) | execute (tasks/s) "
        "| latency p50 (ms) | latency p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind in KINDS:
        col = columns[kind]
        if isinstance(col, str):
            lines.append(f"| {LABELS[kind]} | not measured: {col} | | | | |")
            continue
        lat = col.latencies_ms
        lines.append(
            f"| {LABELS[kind]} | {fmt(col.publish_rate)} | {fmt(col.consume_seconds, 2)} "
            f"| {fmt(col.consume_rate)} | {fmt(pct(lat, 0.5) if lat else None, 1)} "
            f"| {fmt(pct(lat, 0.99) if lat else None, 1)} |"
        )
    lines += ["", "| target | measured | result |", "|---|---:|---|"]
    ours, kombu, memory = columns["kelery"], columns["kombu"], columns["memory"]

    def target(name: str, ratio: float | None, goal: float, unit: str = "x") -> None:
        if ratio is None:
            lines.append(f"| {name} | not measured | — |")
            return
        shown = f"{ratio * 100:.0f}%" if unit == "%" else f"{ratio:.1f}x"
        lines.append(f"| {name} | {shown} | {'pass' if ratio >= goal else 'FAIL'} |")

    def rate(col: Column | str, attr: str) -> float | None:
        return None if isinstance(col, str) else getattr(col, attr)

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None or b == 0 else a / b

    target(
        "our publish ≥ 85% of in-memory",
        ratio(rate(ours, "publish_rate"), rate(memory, "publish_rate")),
        0.85,
        "%",
    )
    target(
        "our publish ≥ 2x kombu's",
        ratio(rate(ours, "publish_rate"), rate(kombu, "publish_rate")),
        2.0,
    )
    target(
        "our execute ≥ 4x kombu's",
        ratio(rate(ours, "consume_rate"), rate(kombu, "consume_rate")),
        4.0,
    )
    if isinstance(ours, Column) and ours.latencies_ms:
        p99 = pct(ours.latencies_ms, 0.99)
        verdict = "pass" if p99 < 100 else "FAIL"
        lines.append(f"| our publish→execute p99 < 100 ms | {p99:.1f} ms | {verdict} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the markdown")
    parser.add_argument("--samples", type=int, default=30, help="latency samples per column")
    args = parser.parse_args()
    bootstrap = os.environ.get("KELERY_BENCH_KAFKA") or os.environ.get("KELERY_TEST_KAFKA")
    if not bootstrap:
        parser.error("set KELERY_BENCH_KAFKA (or KELERY_TEST_KAFKA) to a Kafka broker")
    columns: dict[str, Column | str] = {}
    with tempfile.TemporaryDirectory(prefix="kelery-bench-transport-") as tmp:
        for kind in KINDS:
            samples = max(5, args.samples // 3) if kind == "kombu" else args.samples
            try:
                columns[kind] = measure(kind, bootstrap, Path(tmp), samples)
            except NotMeasuredError as exc:
                columns[kind] = str(exc)
            say(f"[{kind}] done: {columns[kind]}")
    text = render(columns, args.samples)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
