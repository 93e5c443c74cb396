"""Show how a run is going: a rich live line on a terminal, plain lines otherwise.

The produce loop calls :meth:`Progress.update` every few hundred messages with a
:class:`Snapshot`; the display decides what (if anything) to draw, so the loop
never pays for rendering. Nothing is drawn for runs shorter than a second; a
pipe or a log file gets one plain line every ``interval`` seconds instead of
terminal escape codes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn

SHOW_AFTER = 1.0
"""Seconds a run must last before any progress is shown."""


@dataclass(frozen=True)
class Snapshot:
    """The run's counters at one moment."""

    produced: int
    delivered: int
    failed: int
    rejected: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Average delivered messages per second so far."""
        return self.delivered / self.elapsed if self.elapsed > 0 else 0.0

    def describe(self) -> str:
        """One plain line: counts and rate."""
        line = (
            f"sent {self.produced}, delivered {self.delivered}, failed {self.failed}"
            f" ({self.rate:,.0f} msg/s)"
        )
        return line + (f", {self.rejected} invalid input lines" if self.rejected else "")


class ProgressDisplay(Protocol):
    """What the produce loop reports to."""

    def update(self, snapshot: Snapshot) -> None:
        """Record the latest counters; draw if it is time."""

    def close(self) -> None:
        """Stop drawing (leave the last state on screen)."""


class NoProgress:
    """``--quiet``: draw nothing."""

    def update(self, snapshot: Snapshot) -> None:
        """Ignore."""

    def close(self) -> None:
        """Nothing to stop."""


class PlainProgress:
    """One line every ``interval`` seconds, for pipes and log files."""

    def __init__(self, out: TextIO, interval: float) -> None:
        self._out = out
        self._interval = max(interval, SHOW_AFTER)
        self._next = self._interval

    def update(self, snapshot: Snapshot) -> None:
        """Print a line when the next interval is reached."""
        if snapshot.elapsed >= self._next:
            self._next = snapshot.elapsed + self._interval
            print(snapshot.describe(), file=self._out, flush=True)

    def close(self) -> None:
        """Nothing to stop."""


class RichProgress:
    """A live terminal line (a bar when the total is known): sent, delivered, failed, rate."""

    def __init__(self, console: Console, total: int | None) -> None:
        columns = [SpinnerColumn(), TextColumn("[bold]{task.description}")]
        if total is not None:
            columns.append(BarColumn())
        columns += [
            TextColumn("{task.fields[delivered]:,} delivered"),
            TextColumn("[red]{task.fields[failed]:,} failed"),
            TextColumn("{task.fields[rate]:,.0f} msg/s"),
            TextColumn("{task.fields[elapsed]:.1f} s"),
        ]
        self._progress = Progress(*columns, console=console, refresh_per_second=5)
        self._total = total
        self._task: TaskID | None = None
        self._latest: Snapshot | None = None
        self._last_draw = 0.0

    def update(self, snapshot: Snapshot) -> None:
        """Start the display once the run passes a second; then refresh its fields."""
        self._latest = snapshot
        if snapshot.elapsed < SHOW_AFTER:
            return
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(
                "producing", total=self._total, delivered=0, failed=0, rate=0.0, elapsed=0.0
            )
        now = time.monotonic()
        if now - self._last_draw >= 0.1:
            self._last_draw = now
            self._draw(self._task, snapshot)

    def _draw(self, task: TaskID, snapshot: Snapshot) -> None:
        self._progress.update(
            task,
            completed=snapshot.delivered + snapshot.failed,
            description=f"sent {snapshot.produced:,}",
            delivered=snapshot.delivered,
            failed=snapshot.failed,
            rate=snapshot.rate,
            elapsed=snapshot.elapsed,
        )

    def close(self) -> None:
        """Draw the final counters and stop the live display, leaving its last frame."""
        if self._task is not None:
            if self._latest is not None:
                self._draw(self._task, self._latest)
            self._progress.stop()


def make_progress(
    out: TextIO, *, quiet: bool, total: int | None, interval: float
) -> ProgressDisplay:
    """Pick the display for ``out``: none when quiet, rich on a terminal, else plain."""
    if quiet:
        return NoProgress()
    if out.isatty():
        return RichProgress(Console(file=out), total)
    return PlainProgress(out, interval)
