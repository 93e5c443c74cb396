"""The terminal status line: shown only on a TTY, built from the live counters."""

from __future__ import annotations

import io

from kelery.consumer.metrics import ConsumerStats
from kelery.consumer.progress import live_status, status_text


def test_status_text_shows_counts_and_rate() -> None:
    stats = ConsumerStats(records=1500, tasks_sent=1200, replies=3, dead_lettered=2, ignored=295)
    text = status_text(stats, elapsed=3.0)
    assert "records 1,500 (500/s)" in text
    assert "tasks 1,200" in text
    assert "dlq 2" in text


def test_no_display_when_output_is_not_a_terminal() -> None:
    out = io.StringIO()
    with live_status(ConsumerStats(), out) as shown:
        assert shown is False
    assert out.getvalue() == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_display_on_a_terminal_renders_the_counters() -> None:
    out = _Terminal()
    stats = ConsumerStats()
    with live_status(stats, out) as shown:
        stats.records = 7
    assert shown is True
    assert "records 7" in out.getvalue()
