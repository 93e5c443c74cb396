"""``kelery-dev kafka up|status|down`` against a broker of its own, as a person runs them."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kelery.devkit.kafka.state import pid_is_broker

pytestmark = pytest.mark.integration

PATIENCE_S = 180.0


def _env() -> dict[str, str]:
    drop = {"KELERY_TEST_KAFKA", "KAFKA_BOOTSTRAP_SERVERS", "KELERY_KAFKA_PROVIDER"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _cli() -> list[str]:
    script = shutil.which("kelery-dev", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "kelery.devkit.cli"]


def _run(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_cli(), "kafka", "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=PATIENCE_S,
        env=_env(),
        check=False,
    )


def test_detached_up_status_down(tmp_path: Path) -> None:
    up = _run(tmp_path, "up", "--detach", "--port", "0")
    try:
        assert up.returncode == 0, up.stderr
        assert "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:" in up.stdout

        status = _run(tmp_path, "status", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        report = json.loads(status.stdout)
        assert report["running"] is True
        assert report["answers"] is True
        assert report["state"]["version"].startswith("4.")
        pid = report["state"]["pid"]
        assert pid_is_broker(pid)
    finally:
        down = _run(tmp_path, "down")
    assert down.returncode == 0, down.stderr
    assert "Stopped Kafka" in down.stdout
    assert not pid_is_broker(pid)
    assert _run(tmp_path, "status").returncode == 1


@contextlib.contextmanager
def _foreground_up(state_dir: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """``kelery-dev kafka up`` in the foreground, once it says the broker is ready.

    Yields the process and the lines it printed up to "Press Ctrl-C"; kills it on
    the way out if the test left it running.
    """
    process = subprocess.Popen(
        [*_cli(), "kafka", "--state-dir", str(state_dir), "up", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        yield process, lines
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_foreground_up_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    with _foreground_up(tmp_path) as (process, lines):
        assert any("export KAFKA_BOOTSTRAP_SERVERS=" in line for line in lines), lines
        status = json.loads(_run(tmp_path, "status", "--json").stdout)
        pid = status["state"]["pid"]
        assert status["running"] is True
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=PATIENCE_S)
        assert process.returncode == 0, err
        assert not pid_is_broker(pid)
        assert _run(tmp_path, "status").returncode == 1


def test_foreground_up_fails_when_the_broker_dies(tmp_path: Path) -> None:
    with _foreground_up(tmp_path) as (process, _lines):
        pid = json.loads(_run(tmp_path, "status", "--json").stdout)["state"]["pid"]
        os.kill(pid, signal.SIGKILL)  # the broker crashes; nobody asked it to stop
        _out, err = process.communicate(timeout=PATIENCE_S)
        assert process.returncode == 1, err
        assert "exited unexpectedly" in err
