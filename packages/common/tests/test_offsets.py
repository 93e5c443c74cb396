"""The commit point under out-of-order completion: never past an unfinished record."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from kelery.common.offsets import OffsetLedger, OffsetTracker


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
    assert tracker.forget({("t", 0)}) == ({("t", 0): 0}, 2)
    assert tracker.pending == 0
    tracker.finished("t", 0, 1)  # a late delivery report: ignored
    assert tracker.pending == 0
    assert tracker.committable() == {}


def test_a_record_started_twice_counts_once() -> None:
    tracker = OffsetTracker()
    assert tracker.started("t", 0, 3) is True
    assert tracker.started("t", 0, 3) is False
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


@st.composite
def reads_and_finishes(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """Increasing offsets (with gaps, as after compaction) and some finished, in any order."""
    gaps = draw(st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=60))
    start = draw(st.integers(min_value=0, max_value=1000))
    offsets = []
    current = start
    for gap in gaps:
        offsets.append(current)
        current += gap
    finished = draw(st.permutations(offsets))
    keep = draw(st.integers(min_value=0, max_value=len(finished)))
    return offsets, list(finished[:keep])


@given(reads_and_finishes())
def test_the_commit_point_never_passes_an_unfinished_record(
    case: tuple[list[int], list[int]],
) -> None:
    offsets, finishes = case
    ledger = OffsetLedger()
    for offset in offsets:
        assert ledger.started(offset) is True
    done: set[int] = set()
    previous = ledger.commit_point()
    for offset in finishes:
        assert ledger.finished(offset) is True
        done.add(offset)
        point = ledger.commit_point()
        assert point is not None
        unfinished = [o for o in offsets if o not in done]
        assert point == (min(unfinished) if unfinished else offsets[-1] + 1)
        assert previous is not None
        assert point >= previous
        previous = point
    assert ledger.unfinished == len(offsets) - len(done)


def test_duplicate_and_unknown_finishes_change_nothing() -> None:
    ledger = OffsetLedger()
    for offset in (0, 1, 2):
        ledger.started(offset)
    assert ledger.finished(1) is True
    assert ledger.finished(1) is False
    assert ledger.finished(7) is False
    assert ledger.commit_point() == 0
    ledger.finished(0)
    assert ledger.commit_point() == 2


def test_a_record_read_again_after_it_finished_does_not_hold_the_commit_back() -> None:
    ledger = OffsetLedger()
    ledger.started(3)
    ledger.started(4)
    ledger.finished(3)
    assert ledger.started(3) is False  # a seek back re-read it: a duplicate run
    ledger.finished(4)
    assert ledger.commit_point() == 5


def test_a_failed_commit_is_offered_again_unless_a_newer_one_was_sent() -> None:
    tracker = OffsetTracker()
    tracker.assign([("t", 0)])
    tracker.started("t", 0, 5)
    tracker.finished("t", 0, 5)
    tracker.mark_committed(tracker.committable())
    assert tracker.committable() == {}
    tracker.commit_failed({("t", 0): 6})
    assert tracker.committable() == {("t", 0): 6}
    tracker.mark_committed({("t", 0): 6})
    tracker.started("t", 0, 6)
    tracker.finished("t", 0, 6)
    tracker.mark_committed({("t", 0): 7})
    tracker.commit_failed({("t", 0): 6})  # late news of the older commit: ignored
    assert tracker.committable() == {}
