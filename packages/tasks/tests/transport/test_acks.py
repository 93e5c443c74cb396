"""The transport's acks: ownership and generations over kelery-common's offset ledgers."""

from __future__ import annotations

from kelery.tasks.transport.acks import AckTracker


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
