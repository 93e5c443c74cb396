"""Progress displays: nothing for short runs, plain lines off a terminal."""

from __future__ import annotations

import io

from kelery.producer.progress import (
    NoProgress,
    PlainProgress,
    RichProgress,
    Snapshot,
    make_progress,
)


def snap(elapsed: float, delivered: int = 10) -> Snapshot:
    return Snapshot(produced=12, delivered=delivered, failed=1, rejected=0, elapsed=elapsed)


def test_plain_lines_only_every_interval() -> None:
    out = io.StringIO()
    progress = PlainProgress(out, interval=2.0)
    for elapsed in (0.5, 1.0, 1.9, 2.0, 2.5, 3.9, 4.1):
        progress.update(snap(elapsed))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("sent 12, delivered 10, failed 1")


def test_snapshot_rate() -> None:
    assert snap(2.0, delivered=100).rate == 50.0
    assert snap(0.0).rate == 0.0


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_display_choice() -> None:
    assert isinstance(make_progress(io.StringIO(), quiet=True, total=None, interval=1), NoProgress)
    assert isinstance(
        make_progress(io.StringIO(), quiet=False, total=None, interval=1), PlainProgress
    )
    assert isinstance(make_progress(FakeTty(), quiet=False, total=5, interval=1), RichProgress)


def test_rich_draws_nothing_for_a_short_run_and_the_final_counts_for_a_long_one() -> None:
    out = FakeTty()
    short = make_progress(out, quiet=False, total=None, interval=1)
    short.update(snap(0.2))
    short.close()
    assert out.getvalue() == ""
    long = make_progress(out, quiet=False, total=20, interval=1)
    long.update(snap(1.5, delivered=5))
    long.update(snap(1.55, delivered=19))
    long.close()
    assert "19 delivered" in out.getvalue()
