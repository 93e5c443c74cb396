"""A live status line for a person watching ``kelery-consume`` in a terminal.

When stdout is a TTY, rich redraws one line a few times a second from the same
counters the summary log uses (read at render time, so the loop pays nothing).
When stdout is not a TTY (a service, a pipe) nothing is drawn: the periodic
info summary in the log is the plain-lines equivalent.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from kelery.consumer.metrics import ConsumerStats


def status_text(stats: ConsumerStats, elapsed: float) -> str:
    """The status line: totals and the average rate since start."""
    rate = stats.records / elapsed if elapsed > 0 else 0.0
    return (
        f"records {stats.records:,} ({rate:,.0f}/s) | tasks {stats.tasks_sent:,} | "
        f"replies {stats.replies:,} | dlq {stats.dead_lettered:,} | "
        f"ignored {stats.ignored:,} | retries {stats.publish_retries:,}"
    )


@contextmanager
def live_status(stats: ConsumerStats, out: IO[str] | None = None) -> Iterator[bool]:
    """Show :func:`status_text` live while the block runs, if ``out`` is a terminal.

    Yields whether the display is on.
    """
    stream = out or sys.stdout
    if not stream.isatty():
        yield False
        return
    start = time.monotonic()
    console = Console(file=stream)
    with Live(
        get_renderable=lambda: Text(status_text(stats, time.monotonic() - start)),
        console=console,
        refresh_per_second=4,
        redirect_stdout=False,
        redirect_stderr=False,
    ):
        yield True
