"""The commit point under out-of-order acks: never past an unfinished record."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kelery.tasks.transport.acks import AckLedger, AckTracker


@st.composite
def deliveries_and_acks(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """Increasing offsets (with gaps, as after compaction) and acks of some, in any order."""
    gaps = draw(st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=60))
    start = draw(st.integers(min_value=0, max_value=1000))
    offsets = []
    current = start
    for gap in gaps:
        offsets.append(current)
        current += gap
    acked = draw(st.permutations(offsets))
    keep = draw(st.integers(min_value=0, max_value=len(acked)))
    return offsets, list(acked[:keep])


@given(deliveries_and_acks())
def test_committable_never_passes_an_unacked_record(case: tuple[list[int], list[int]]) -> None:
    offsets, acks = case
    ledger = AckLedger()
    for offset in offsets:
        ledger.delivered(offset)
    done: set[int] = set()
    previous = ledger.committable()
    for offset in acks:
        ledger.acked(offset)
        done.add(offset)
        committable = ledger.committable()
        assert committable is not None
        unfinished = [o for o in offsets if o not in done]
        if unfinished:
            assert committable == min(unfinished)
        else:
            assert committable == offsets[-1] + 1
        assert previous is not None
        assert committable >= previous
        previous = committable
    assert ledger.unacked == len(offsets) - len(done)


def test_all_acked_commits_past_the_last_record() -> None:
    ledger = AckLedger()
    for offset in (5, 6, 9):
        ledger.delivered(offset)
    for offset in (9, 5, 6):
        ledger.acked(offset)
    assert ledger.committable() == 10


def test_duplicate_and_unknown_acks_change_nothing() -> None:
    ledger = AckLedger()
    for offset in (0, 1, 2):
        ledger.delivered(offset)
    ledger.acked(1)
    ledger.acked(1)
    ledger.acked(7)
    assert ledger.committable() == 0
    ledger.acked(0)
    assert ledger.committable() == 2


def test_offsets_must_arrive_in_order() -> None:
    ledger = AckLedger()
    ledger.delivered(4)
    with pytest.raises(ValueError, match="delivered after"):
        ledger.delivered(3)


def test_advanced_reports_each_commit_point_once() -> None:
    tracker = AckTracker()
    tracker.assign([("t", 0)])
    positions = [tracker.delivered("t", 0, offset) for offset in range(3)]
    assert all(p is not None for p in positions)
    assert tracker.due() == {("t", 0): 0}
    tracker.committed({("t", 0): 0})
    assert tracker.due() == {}
    tracker.acked(positions[1])  # type: ignore[arg-type]
    assert tracker.due() == {}
    tracker.acked(positions[0])  # type: ignore[arg-type]
    assert tracker.due() == {("t", 0): 2}


def test_an_ack_from_before_a_rebalance_is_ignored() -> None:
    tracker = AckTracker()
    tracker.assign([("t", 0)])
    old = tracker.delivered("t", 0, 10)
    assert old is not None
    assert tracker.revoke([("t", 0)]) == {("t", 0): 10}
    tracker.assign([("t", 0)])  # the partition came back: redelivered from 10
    new = tracker.delivered("t", 0, 10)
    assert new is not None
    assert tracker.acked(old) is False
    assert tracker.due() == {("t", 0): 10}
    assert tracker.acked(new) is True
    assert tracker.due() == {("t", 0): 11}


def test_records_of_a_partition_not_owned_are_not_tracked() -> None:
    tracker = AckTracker()
    assert tracker.delivered("t", 3, 0) is None
    assert tracker.unacked() == 0


def test_a_failed_async_commit_is_due_again() -> None:
    tracker = AckTracker()
    tracker.assign([("t", 0), ("t", 1)])
    for partition in (0, 1):
        tracker.acked(tracker.delivered("t", partition, 5))  # type: ignore[arg-type]
    due = tracker.due()
    assert due == {("t", 0): 6, ("t", 1): 6}
    tracker.committed(due)  # sent asynchronously, marked at once
    assert tracker.due() == {}
    tracker.commit_failed({("t", 0): 6})  # the on_commit callback reports a refusal
    assert tracker.due() == {("t", 0): 6}


def test_a_late_failure_does_not_undo_a_newer_commit() -> None:
    tracker = AckTracker()
    tracker.assign([("t", 0)])
    tracker.acked(tracker.delivered("t", 0, 5))  # type: ignore[arg-type]
    tracker.committed(tracker.due())
    tracker.acked(tracker.delivered("t", 0, 6))  # type: ignore[arg-type]
    tracker.committed(tracker.due())  # offset 7 sent after 6
    tracker.commit_failed({("t", 0): 6})
    assert tracker.due() == {}
    tracker.commit_failed({("t", 9): 1})  # not ours: ignored


def test_the_reader_un_marks_partitions_a_commit_callback_reports_failed() -> None:
    from types import SimpleNamespace

    from confluent_kafka import KafkaError, TopicPartition

    from kelery.tasks.transport.group_reader import GroupReader

    tracker = AckTracker()
    tracker.assign([("t", 0)])
    tracker.acked(tracker.delivered("t", 0, 0))  # type: ignore[arg-type]
    tracker.committed(tracker.due())
    reader = SimpleNamespace(tracker=tracker)
    GroupReader._on_commit(reader, None, [TopicPartition("t", 0, 1)])  # type: ignore[arg-type]
    assert tracker.due() == {}
    failure = KafkaError(KafkaError.REBALANCE_IN_PROGRESS)
    GroupReader._on_commit(reader, failure, [TopicPartition("t", 0, 1)])  # type: ignore[arg-type]
    assert tracker.due() == {("t", 0): 1}
