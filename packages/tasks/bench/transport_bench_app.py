"""The Celery app the transport benchmark runs in a real worker, configured by env.

``KTB_KIND`` picks the broker (``kelery``: our transport; ``kombu``: kombu's
``confluentkafka://``; ``redis``; ``memory``), ``KTB_QUEUE`` the queue,
``KTB_RECORD`` the file where each execution appends its wall-clock time, the
task's number, the executing process's pid and that process's CPU time so far
(``time.process_time()``: every thread, librdkafka's included). With ``KTB_GATE`` set, a worker's
first task marks the worker ready and waits until that file exists.
``KTB_KOMBU_WAIT`` sets kombu's ``wait_time_seconds`` (its blocking poll per queue).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, TextIO

from celery import Celery

from kelery.common.settings import KafkaSettings
from kelery.tasks.transport import celery_config


def broker_settings(kind: str, env: dict[str, str]) -> dict[str, Any]:
    """Celery broker settings for one benchmark column."""
    bootstrap = env.get("KTB_KAFKA", "")
    if kind == "kelery":
        return celery_config(
            KafkaSettings(bootstrap_servers=bootstrap),
            topic_prefix=env["KTB_PREFIX"],
            group_id=env["KTB_PREFIX"] + "workers",
        )
    if kind == "kombu":
        options: dict[str, Any] = {}
        if env.get("KTB_KOMBU_WAIT"):
            options["wait_time_seconds"] = float(env["KTB_KOMBU_WAIT"])
        return {"broker_url": f"confluentkafka://{bootstrap}", "broker_transport_options": options}
    if kind == "redis":
        return {"broker_url": env["KTB_REDIS"]}
    return {"broker_url": "memory://"}


_open_records: dict[tuple[int, str], TextIO] = {}


def _record_file(path: str) -> TextIO:
    """The execution record, opened once per process and line-buffered.

    Opening and closing the file for every task cost the worker 12 to 17 µs of
    the 94 to 100 µs of CPU a no-op took on the in-memory floor: the same for every
    column, a cost that blurred what the transports themselves cost. One
    ``write`` per line keeps each line whole and in the file at once for the
    benchmark tailing it (a worker killed at any point loses none).
    """
    key = (os.getpid(), path)
    handle = _open_records.get(key)
    if handle is None:
        handle = _open_records[key] = Path(path).open("a", encoding="utf-8", buffering=1)  # noqa: SIM115 - kept open
    return handle


def build(env: dict[str, str]) -> Celery:
    """The benchmark app for ``env``."""
    app = Celery("transport_bench_app")
    app.conf.update(
        broker_settings(env.get("KTB_KIND", "memory"), env),
        task_default_queue=env.get("KTB_QUEUE", "bench"),
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        worker_prefetch_multiplier=16,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    record = env.get("KTB_RECORD")
    gate = Path(env["KTB_GATE"]) if env.get("KTB_GATE") else None
    opened: list[bool] = []

    @app.task(name="bench.noop", shared=False)  # one app per column in the bench process
    def noop(n: int = 0) -> None:
        if gate is not None and not opened:
            # hold the first task until the benchmark opens the gate (every worker joined)
            gate.with_name(f"{gate.name}.ready.{os.getpid()}").touch()
            while not gate.exists():
                time.sleep(0.005)
            opened.append(True)
        if record:
            line = f"{time.time():.6f} {n} {os.getpid()} {time.process_time():.6f}\n"
            _record_file(record).write(line)

    return app


app = build(dict(os.environ))
