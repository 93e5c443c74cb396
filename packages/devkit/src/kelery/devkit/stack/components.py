"""What ``kelery-dev up`` runs: each Kelery process, its command line and its package.

Every component is started as its own process with the interpreter running
``kelery-dev`` (so it uses the same environment), through the component's
module rather than a console script on PATH. The devkit does not import the
components: when one is not installed, :func:`missing` names the package to install.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Component:
    """One process of the system."""

    name: str
    module: str
    """The module that must be importable (it proves the package is installed)."""
    distribution: str
    argv: tuple[str, ...]


def _entry(module: str, function: str = "main") -> tuple[str, ...]:
    """Run ``module.function()`` as a program and exit with what it returns."""
    code = f"import sys; from {module} import {function}; sys.exit({function}())"
    return (sys.executable, "-c", code)


def components(rundir: Path, *, workers: int = 2, with_discord: bool = True) -> list[Component]:
    """The processes to start, in start order (the workers first, the edges last)."""
    celery = (sys.executable, "-m", "celery", "-A", "kelery.tasks.app")
    stack = [
        Component(
            "worker",
            "kelery.tasks.app",
            "kelery-tasks",
            (
                *celery,
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(workers),
                "--hostname",
                "kelery@%h",
            ),
        ),
        Component(
            "beat",
            "kelery.tasks.beat",
            "kelery-tasks",
            (*celery, "beat", "--loglevel", "INFO", "--schedule", str(rundir / "beat-schedule")),
        ),
        Component(
            "consumer", "kelery.consumer.cli", "kelery-consumer", _entry("kelery.consumer.cli")
        ),
    ]
    if with_discord:
        stack += [
            Component(
                "speaker",
                "kelery.discord_speaker.cli",
                "kelery-discord-speaker",
                _entry("kelery.discord_speaker.cli"),
            ),
            Component(
                "listener",
                "kelery.discord_listener.cli",
                "kelery-discord-listener",
                _entry("kelery.discord_listener.cli"),
            ),
        ]
    return stack


def missing(stack: list[Component]) -> list[str]:
    """Distributions whose component cannot be imported here (install them to run ``up``)."""
    absent: list[str] = []
    for component in stack:
        root = component.module.rsplit(".", 1)[0]
        if importlib.util.find_spec(root) is None and component.distribution not in absent:
            absent.append(component.distribution)
    return absent
