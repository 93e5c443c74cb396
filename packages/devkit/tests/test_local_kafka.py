"""The local JVM launcher itself: its own broker, clean stop, failures with the log tail."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kelery.devkit.kafka import BrokerStartError, LocalKafka
from kelery.devkit.kafka.ports import port_is_open

pytestmark = pytest.mark.integration

PATIENCE_S = 120.0


def _env() -> dict[str, str]:
    """The caller's environment minus any configured cluster: these tests start their own."""
    drop = {"KELERY_TEST_KAFKA", "KAFKA_BOOTSTRAP_SERVERS", "KELERY_KAFKA_PROVIDER"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); /proc tells us it is dead.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][:1] != "Z"


def _wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + PATIENCE_S
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_starts_own_broker_and_stops_it_without_leftovers(tmp_path: Path) -> None:
    broker = LocalKafka(workdir=tmp_path, env=_env())
    with broker:
        assert broker.is_running()
        assert broker.version is not None
        assert broker.version.startswith("4.")
        assert port_is_open("127.0.0.1", broker.port)
        pid = broker.pid
        assert pid is not None
        log = broker.log_path.read_text()
        assert f"Kafka version: {broker.version}" in log
    assert not broker.is_running()
    assert _wait_gone(pid)
    assert not port_is_open("127.0.0.1", broker.port)
    assert (tmp_path / "broker.log").exists(), "a given workdir (and its log) is kept"


def test_startup_failure_raises_with_the_broker_log(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        broker = LocalKafka(workdir=tmp_path, env=_env(), port=port)
        with pytest.raises(BrokerStartError) as caught:
            broker.start()
    message = str(caught.value)
    assert "broker.log" in message
    assert "Address already in use" in message or "BindException" in message
    assert not broker.is_running()


def test_watchdog_kills_the_broker_when_python_dies(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from kelery.devkit.kafka import LocalKafka\n"
        f"b = LocalKafka(workdir=Path({str(tmp_path)!r})).start()\n"
        "print(b.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=_env(),
        text=True,
    )
    try:
        assert parent.stdout is not None
        jvm_pid = int(parent.stdout.readline())
        assert _pid_alive(jvm_pid)
        parent.kill()  # SIGKILL: no atexit, no finally; only the watchdog can clean up.
        parent.wait()
        assert _wait_gone(jvm_pid), "the broker outlived the Python process that started it"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for stream in (parent.stdin, parent.stdout):
            if stream:
                stream.close()
