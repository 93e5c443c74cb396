"""The offset tracker commits only below the first unfinished record, per partition."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from kelery.consumer.offsets import OffsetTracker


def test_nothing_to_commit_before_anything_started() -> None:
    assert OffsetTracker().committable() == {}


def test_out_of_order_completion_holds_the_commit_back() -> None:
    tracker = OffsetTracker()
    for offset in (10, 11, 12):
        tracker.started("t", 0, offset)
    tracker.finished("t", 0, 11)
    tracker.finished("t", 0, 12)
    assert tracker.committable() == {("t", 0): 10}
    tracker.finished("t", 0, 10)
    assert tracker.committable() == {("t", 0): 13}
    assert tracker.pending == 0


def test_committed_offsets_are_not_offered_again() -> None:
    tracker = OffsetTracker()
    tracker.started("t", 0, 0)
    tracker.finished("t", 0, 0)
    offsets = tracker.committable()
    tracker.mark_committed(offsets)
    assert tracker.committable() == {}
    tracker.started("t", 0, 1)
    assert tracker.committable() == {}  # 1 is pending: the commit point is still 1
    tracker.finished("t", 0, 1)
    assert tracker.committable() == {("t", 0): 2}


def test_partitions_are_independent_and_can_be_filtered() -> None:
    tracker = OffsetTracker()
    tracker.started("t", 0, 5)
    tracker.started("t", 1, 7)
    tracker.finished("t", 1, 7)
    assert tracker.committable() == {("t", 0): 5, ("t", 1): 8}
    assert tracker.committable({("t", 1)}) == {("t", 1): 8}


def test_forget_drops_revoked_partitions_and_late_reports() -> None:
    tracker = OffsetTracker()
    tracker.started("t", 0, 0)
    tracker.started("t", 0, 1)
    assert tracker.forget({("t", 0)}) == 2
    assert tracker.pending == 0
    tracker.finished("t", 0, 1)  # a late delivery report: ignored
    assert tracker.pending == 0
    assert tracker.committable() == {}


def test_a_record_started_twice_counts_once() -> None:
    tracker = OffsetTracker()
    tracker.started("t", 0, 3)
    tracker.started("t", 0, 3)
    assert tracker.pending == 1
    tracker.finished("t", 0, 3)
    assert tracker.pending == 0


@given(st.integers(min_value=1, max_value=60), st.randoms(use_true_random=False), st.data())
def test_commit_point_is_always_the_first_unfinished(
    count: int, rnd: random.Random, data: st.DataObject
) -> None:
    tracker = OffsetTracker()
    base = data.draw(st.integers(min_value=0, max_value=10**12))
    for offset in range(base, base + count):
        tracker.started("t", 2, offset)
    order = list(range(base, base + count))
    rnd.shuffle(order)
    finished: set[int] = set()
    for offset in order:
        tracker.finished("t", 2, offset)
        finished.add(offset)
        first_unfinished = next(
            (o for o in range(base, base + count) if o not in finished), base + count
        )
        assert tracker.committable() == {("t", 2): first_unfinished}
        assert tracker.pending == count - len(finished)
