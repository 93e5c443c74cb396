"""Flower on our transport: it lists the workers (remote control) and the tasks (events).

Flower reads both of the broadcast paths the transport provides: ``inspect``
(pidbox fanout out, direct replies back across processes) for its worker list,
and the ``celeryev`` topic exchange for task states. A real worker, a real
Flower process and its HTTP API, on the real broker.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from types import ModuleType
from typing import Any

import pytest

from .conftest import APP_MODULE, HERE, TransportEnv, stop_worker, wait_until

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
            return json.loads(response.read())
    except OSError:
        return None


def test_flower_lists_the_worker_and_its_tasks(transport_env: TransportEnv) -> None:
    app: ModuleType = transport_env.load_app()
    transport_env.start_worker("flw", "--events")
    port = _free_port()
    with (transport_env.logs / "flower.log").open("wb") as log:
        flower = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                APP_MODULE,
                "flower",
                f"--port={port}",
                "--address=127.0.0.1",
            ],
            cwd=HERE,
            env={**transport_env.env("flower"), "FLOWER_UNAUTHENTICATED_API": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/api"
    try:

        def worker_listed() -> bool:
            workers = _get(f"{base}/workers?refresh=1") or {}
            return any(name.startswith("flw@") for name in workers)

        wait_until(worker_listed, "Flower to list the worker")
        sent = {app.record.delay("flower", n).id for n in range(3)}

        def tasks_succeeded() -> bool:
            tasks = _get(f"{base}/tasks") or {}
            done = {tid for tid, info in tasks.items() if info.get("state") == "SUCCESS"}
            return sent <= done

        wait_until(tasks_succeeded, "Flower to show the three tasks as succeeded")
    finally:
        flower.terminate()
        flower.wait(30)
        for process in transport_env.workers:
            stop_worker(process)
