"""kelery-dev up: the whole system, real processes, real broker, real bots, fake Discord."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kelery.devkit.stack.supervisor import RUN_MARKER

pytestmark = pytest.mark.integration


def _up(kafka: str, rundir: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka, "PYTHONUNBUFFERED": "1"}
    env.pop("DISCORD_TOKEN", None)
    return subprocess.Popen(
        [sys.executable, "-m", "kelery.devkit.cli", "up", "--rundir", str(rundir), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.PIPE,
        text=True,
    )


def _leftovers(rundir: Path) -> list[str]:
    """Processes still running that belong to this run (marked in their environment)."""
    marker = f"{RUN_MARKER}={rundir}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_text().replace("\0", " "))
        except OSError:
            continue
    return found


def test_up_demo_answers_ping_and_echo_through_every_component(kafka: str, tmp_path: Path) -> None:
    up = _up(kafka, tmp_path, "--demo", "--timeout", "150")
    output, _ = up.communicate(timeout=400)
    assert up.returncode == 0, output
    assert "#general you: !ping" in output
    assert ": pong" in output
    assert ": hello from kelery-dev" in output
    assert "demo: every line was answered" in output
    assert _leftovers(tmp_path) == []


def test_up_talks_through_stdin_and_stops_cleanly_on_sigterm(kafka: str, tmp_path: Path) -> None:
    up = _up(kafka, tmp_path, "--timeout", "150")
    assert up.stdout is not None
    assert up.stdin is not None
    lines: list[str] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = up.stdout.readline()
        assert line, "kelery-dev up ended early:\n" + "".join(lines)
        lines.append(line)
        if line.startswith("Kelery is up"):
            break
    up.stdin.write("!echo typed at the terminal\n")
    up.stdin.flush()
    while time.monotonic() < deadline:
        line = up.stdout.readline()
        assert line, "".join(lines)
        lines.append(line)
        if ": typed at the terminal" in line:
            break
    up.send_signal(signal.SIGTERM)
    rest, _ = up.communicate(timeout=120)
    assert up.returncode == 0, "".join(lines) + rest
    assert "stopping..." in rest
    assert _leftovers(tmp_path) == []


def test_up_leaves_nothing_behind_when_it_is_killed(kafka: str, tmp_path: Path) -> None:
    up = _up(kafka, tmp_path, "--timeout", "150")
    assert up.stdout is not None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = up.stdout.readline()
        assert line, "kelery-dev up ended early"
        if line.startswith("Kelery is up"):
            break
    assert _leftovers(tmp_path) != []
    up.kill()  # kill -9: no cleanup code of kelery-dev runs
    up.communicate(timeout=30)
    deadline = time.monotonic() + 60
    while _leftovers(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _leftovers(tmp_path) == []
