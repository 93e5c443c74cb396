"""Start, watch and stop the system's processes.

Each process writes its output to its own log file under the run folder (so the
terminal shows the conversation, not five interleaved logs) and runs in its own
process group, so a stop reaches its children (Celery's pool) too. Stopping is
polite first: SIGTERM in reverse start order, then SIGKILL for what is still
there after the grace period.
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

from kelery.devkit.stack.components import Component

LOG_TAIL_LINES = 25


@dataclass
class Running:
    """A started component: its process and where its log goes."""

    component: Component
    process: subprocess.Popen[bytes]
    log_path: Path
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

    def __init__(self, rundir: Path, env: Mapping[str, str]) -> None:
        self.rundir = rundir
        self.env = dict(env)
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
            cwd=self.rundir,
            start_new_session=True,
        )
        started = Running(component, process, log_path, log)
        self.running.append(started)
        return started

    def exited(self) -> list[Running]:
        """Components whose process has ended (in a healthy system: none)."""
        return [r for r in self.running if r.process.poll() is not None]

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM everything in reverse start order, wait, then SIGKILL the rest."""
        for running in reversed(self.running):
            _signal_group(running.process, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for running in reversed(self.running):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                running.process.wait(remaining)
            except subprocess.TimeoutExpired:
                _signal_group(running.process, signal.SIGKILL)
                running.process.wait(5)
        for running in self.running:
            # The group may still hold a pool child after its leader exited.
            _signal_group(running.process, signal.SIGKILL)
            running._log.close()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
