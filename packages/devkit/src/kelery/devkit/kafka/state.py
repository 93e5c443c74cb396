"""The record a ``kelery-dev kafka up`` leaves behind, so ``status`` and ``down`` find it.

A JSON file in the broker's work folder; the pid is double-checked against
``/proc/<pid>/cmdline`` before anyone signals it, so a recycled pid is never killed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from kelery.devkit.kafka.paths import cache_root

__all__ = [
    "BrokerState",
    "clear_state",
    "default_state_dir",
    "pid_is_broker",
    "read_state",
    "write_state",
]

_FILE = "state.json"


@dataclass(frozen=True)
class BrokerState:
    """What ``kafka up`` started: enough to reach, describe and stop it."""

    pid: int
    bootstrap_servers: str
    port: int
    controller_port: int
    version: str
    workdir: str
    log_path: str
    started_at: str
    detached: bool


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """The dev broker's work folder: ``<cache>/kafka-dev``."""
    return cache_root(env) / "kafka-dev"


def write_state(state_dir: Path, state: BrokerState) -> Path:
    """Write `state` atomically (temp file + rename) and return its path."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / _FILE
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def read_state(state_dir: Path) -> BrokerState | None:
    """Return the recorded broker, or None when there is none or the file is unreadable."""
    try:
        data = json.loads((state_dir / _FILE).read_text(encoding="utf-8"))
        return BrokerState(**data)
    except (OSError, ValueError, TypeError):
        return None


def clear_state(state_dir: Path) -> None:
    """Forget the recorded broker."""
    (state_dir / _FILE).unlink(missing_ok=True)


def pid_is_broker(pid: int) -> bool:
    """Tell whether `pid` is alive and (where /proc exists) a ``kafka.Kafka`` JVM."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        return True  # No /proc (macOS): trust the pid.
    try:
        cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        status = (proc / "stat").read_text().rsplit(") ", 1)[1][:1]
    except (OSError, IndexError):
        return False
    return status != "Z" and b"kafka.Kafka" in cmdline
