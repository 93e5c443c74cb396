"""Start, watch and stop the system's processes.

Each process writes its output to its own log file under the run folder (so the
terminal shows the conversation, not five interleaved logs) and runs in its own
process group, so a stop reaches its children (Celery's pool) too. Processes run
in the caller's folder, so a ``.env`` or ``logging_config.json`` there applies to
them as it would to a process started by hand.

Stopping is polite first: SIGTERM to every process at once, a grace period, then
SIGKILL for what is left. Each process also has the devkit's watchdog: if
``kelery-dev`` itself dies (kill -9, a second Ctrl-C), the watchdog takes the
process's group down, so nothing outlives the run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kelery.devkit.kafka.watchdog import start_watchdog
from kelery.devkit.stack.components import Component

LOG_TAIL_LINES = 25
RUN_MARKER = "KELERY_UP_RUNDIR"
"""Set in every component's environment: which ``kelery-dev up`` run it belongs to."""


@dataclass
class Running:
    """A started component: its process, its watchdog and where its log goes."""

    component: Component
    process: subprocess.Popen[bytes]
    log_path: Path
    watchdog: subprocess.Popen[bytes]
    _log: IO[bytes] = field(repr=False)

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` of the component's log, for an error message."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def log_contains(self, needle: str) -> bool:
        """Whether the log mentions ``needle`` yet (a readiness line)."""
        return needle in self.log_path.read_text(encoding="utf-8", errors="replace")


class Supervisor:
    """Owns the processes of one ``kelery-dev up`` run."""

    def __init__(self, rundir: Path, env: Mapping[str, str], cwd: Path | None = None) -> None:
        self.rundir = rundir
        self.env = {**env, RUN_MARKER: str(rundir)}
        self.cwd = cwd or Path.cwd()
        self.running: list[Running] = []

    def start(self, component: Component) -> Running:
        """Start ``component`` with its output in ``<rundir>/<name>.log``."""
        log_path = self.rundir / f"{component.name}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            component.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        started = Running(component, process, log_path, start_watchdog(process.pid), log)
        self.running.append(started)
        return started

    def exited(self) -> list[Running]:
        """Components whose process has ended (in a healthy system: none)."""
        return [r for r in self.running if r.process.poll() is not None]

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM every process, wait up to ``grace_s`` in all, then SIGKILL what is left."""
        for running in self.running:
            _signal_group(running.process, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for running in self.running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                running.process.wait(max(0.1, deadline - time.monotonic()))
        for running in self.running:
            # What ignored SIGTERM, and any pool child whose leader already exited.
            _signal_group(running.process, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                running.process.wait(5)
            _release(running.watchdog)
            running._log.close()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _release(watchdog: subprocess.Popen[bytes]) -> None:
    """Close the watchdog's pipe (its group is already gone, so it just exits)."""
    if watchdog.stdin is not None:
        watchdog.stdin.close()
    try:
        watchdog.wait(10)
    except subprocess.TimeoutExpired:
        watchdog.kill()
        watchdog.wait()
