"""Real Celery workers on the real Kafka broker, for the transport's integration tests.

Each test module gets its own topic prefix and consumer group (engineers share
the broker), a file where the test app's tasks record each execution, and real
``celery worker`` processes started with :func:`start_worker` and killed in
teardown. The broker comes from the devkit plugin's ``kafka`` fixture.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

from kelery.devkit import waiting

HERE = Path(__file__).parent
APP_MODULE = "kelery_transport_testapp"
WAIT_S = 120.0  # a safety net against hanging, not a speed claim


def wait_until(done: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """The devkit's poll, with this folder's longer guard (workers start slowly)."""
    waiting.wait_until(done, what, timeout, interval=0.1)


@dataclass
class TransportEnv:
    """What the test process and its workers share."""

    bootstrap: str
    prefix: str
    group: str
    record_file: Path
    logs: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self, name: str = "test") -> dict[str, str]:
        """The environment of a process using the test app."""
        return {
            **os.environ,
            "KELERY_TEST_KAFKA": self.bootstrap,
            "KTT_PREFIX": self.prefix,
            "KTT_GROUP": self.group,
            "KTT_RECORD": str(self.record_file),
            "KTT_NAME": name,
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        }

    def topic(self, queue: str) -> str:
        """The Kafka topic of ``queue``."""
        return self.prefix + queue

    def executions(self, tag: str) -> Counter[tuple[int, str]]:
        """How often each ``(n, worker)`` of ``tag`` ran."""
        counts: Counter[tuple[int, str]] = Counter()
        if not self.record_file.exists():
            return counts
        for line in self.record_file.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == tag:
                counts[(int(parts[1]), parts[2])] += 1
        return counts

    def start_worker(self, name: str, *extra: str) -> subprocess.Popen[bytes]:
        """A real ``celery worker`` (prefork, two children) in its own process group."""
        with (self.logs / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    APP_MODULE,
                    "worker",
                    "--pool=prefork",
                    "--concurrency=2",
                    f"--hostname={name}@%h",
                    "--loglevel=INFO",
                    *extra,
                ],
                cwd=HERE,
                env=self.env(name),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers.append(process)
        return process

    def load_app(self) -> ModuleType:
        """The test app, imported in this process with this env's settings."""
        saved = dict(os.environ)
        os.environ.update(self.env())
        try:
            spec = importlib.util.spec_from_file_location(
                f"{APP_MODULE}_{uuid.uuid4().hex[:6]}", HERE / f"{APP_MODULE}.py"
            )
            assert spec is not None
            assert spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return module


def kill_group(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Signal a worker's whole process group (main process and pool children)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    """Warm shutdown (SIGTERM to the main process only), then SIGKILL the group if it lingers.

    SIGTERM to the pool children as well would kill one holding billiard's queue
    lock, and the main process would then hang at exit.
    """
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        kill_group(process)
        process.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # any pool child left behind


@pytest.fixture(scope="module")
def transport_env(kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransportEnv]:
    """A fresh prefix/group/record file; every worker started on it is stopped after."""
    run = uuid.uuid4().hex[:8]
    root = tmp_path_factory.mktemp(f"transport-{run}")
    env = TransportEnv(
        bootstrap=kafka,
        prefix=f"ktt-{run}.",
        group=f"ktt-{run}",
        record_file=root / "executions.txt",
        logs=root,
    )
    yield env
    for process in env.workers:
        stop_worker(process)
