"""The consume loop's commit, retry and lag logic, against a scripted in-memory consumer.

The fake consumer stands in for confluent_kafka's: it returns scripted batches and
records what the loop asked of it (commits, pauses, seeks, watermark queries), so
these tests check the loop's decisions without a broker or a clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import KafkaException, TopicPartition

from kelery.consumer import loop as loop_module
from kelery.consumer.decide import Decider, Decision, Reply, SendTask
from kelery.consumer.dispatch import Done, PublishError
from kelery.consumer.loop import ConsumeLoop, LoopOptions, commit_due
from kelery.consumer.routing import RoutingTable

TOPIC = "kelery.commands"


@dataclass
class FakeMessage:
    _partition: int
    _offset: int
    _value: bytes

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value


def record(partition: int, offset: int, content: str) -> FakeMessage:
    value = json.dumps({"uuid": f"u{partition}-{offset}", "content": content}).encode()
    return FakeMessage(partition, offset, value)


@dataclass
class FakeConsumer:
    """Returns ``batches`` one per read, then nothing; records every request.

    A read is what ``poll_batch`` does: ``poll()`` takes the next batch and returns
    its first record, the ``consume()`` after it the rest.

    A scripted batch is returned even for paused partitions (as records fetched before
    a pause, or of a partition assigned during one, may be); a record put back with
    ``seek()`` comes again once its partition is resumed.
    """

    batches: list[list[FakeMessage]]
    partitions: tuple[int, ...] = (0,)
    fail_commits: int = 0
    reads: int = 0
    commits: list[dict[tuple[str, int], int]] = field(default_factory=list)
    paused: set[tuple[str, int]] = field(default_factory=set)
    pause_calls: int = 0
    resume_calls: int = 0
    seeks: list[tuple[str, int, int]] = field(default_factory=list)
    watermark_kwargs: list[dict[str, Any]] = field(default_factory=list)
    on_read: Callable[[FakeConsumer], None] | None = None
    rewound: list[FakeMessage] = field(default_factory=list)
    delivered: list[FakeMessage] = field(default_factory=list)
    unread: list[FakeMessage] = field(default_factory=list)

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        callbacks["on_assign"](self, [TopicPartition(TOPIC, p) for p in self.partitions])

    def poll(self, timeout: float) -> FakeMessage | None:
        self.reads += 1
        if self.on_read is not None:
            self.on_read(self)
        again = [m for m in self.rewound if (TOPIC, m.partition()) not in self.paused]
        self.rewound = [m for m in self.rewound if m not in again]
        batch = again + (self.batches.pop(0) if self.batches else [])
        self.delivered += batch
        self.unread = batch[1:]
        return batch[0] if batch else None

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        batch, self.unread = self.unread[:num_messages], self.unread[num_messages:]
        return batch

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> list[TopicPartition]:
        if self.fail_commits:
            self.fail_commits -= 1
            raise KafkaException("coordinator not available")
        self.commits.append({(tp.topic, tp.partition): tp.offset for tp in offsets})
        return offsets

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.pause_calls += 1
        self.paused |= {(tp.topic, tp.partition) for tp in partitions}

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.resume_calls += 1
        self.paused -= {(tp.topic, tp.partition) for tp in partitions}

    def offsets_for_times(
        self, partitions: list[TopicPartition], timeout: float
    ) -> list[TopicPartition]:
        """What resume_fetching asks after a resume to wake the fetcher; unused here."""
        return partitions

    def seek(self, partition: TopicPartition) -> None:
        self.seeks.append((partition.topic, partition.partition, partition.offset))
        self.rewound += [
            m
            for m in self.delivered
            if (m.partition(), m.offset()) == (partition.partition, partition.offset)
        ][-1:]

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, p) for p in self.partitions]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, 5) for tp in partitions]

    def get_watermark_offsets(self, partition: TopicPartition, **kwargs: Any) -> tuple[int, int]:
        self.watermark_kwargs.append(kwargs)
        return (0, 12)

    def close(self) -> None:
        pass


class FakeDispatcher:
    """Tasks are done at once (after ``failures`` PublishErrors); replies when confirmed."""

    def __init__(self, failures: int = 0) -> None:
        self.fatal: str | None = None
        self.failures = failures
        self.unconfirmed: list[Done] = []
        self.sent: list[Decision] = []
        self.confirm_on_poll = False

    def dispatch(self, decision: Decision, record: Any, done: Done) -> None:
        if isinstance(decision, SendTask) and self.failures:
            self.failures -= 1
            raise PublishError("broker away")
        self.sent.append(decision)
        if isinstance(decision, Reply):
            self.unconfirmed.append(done)
        else:
            done()

    def poll(self) -> None:
        if self.confirm_on_poll:
            while self.unconfirmed:
                self.unconfirmed.pop()()

    def flush(self, timeout: float) -> int:
        return 0

    def close(self) -> None:
        pass


class StopAfter:
    """Asks to stop once the consumer was read ``calls`` times (and ``until`` holds).

    Notes the commits made before the stop, to tell them from the shutdown commit.
    """

    def __init__(
        self, consumer: FakeConsumer, calls: int, until: Callable[[], bool] = lambda: True
    ) -> None:
        self._consumer = consumer
        self._calls = calls
        self._until = until
        self.commits_before_stop: list[dict[tuple[str, int], int]] | None = None

    @property
    def requested(self) -> bool:
        if self._consumer.reads >= self._calls and self._until():
            if self.commits_before_stop is None:
                self.commits_before_stop = list(self._consumer.commits)
            return True
        return False

    def wait(self, timeout: float | None = None) -> bool:
        return self.requested


def make_loop(consumer: FakeConsumer, dispatcher: FakeDispatcher, **options: Any) -> ConsumeLoop:
    opts = LoopOptions(topics=[TOPIC], commit_interval_s=0.0, **options)
    return ConsumeLoop(consumer, Decider(RoutingTable.default()), dispatcher, opts)  # type: ignore[arg-type]


def test_commit_is_due_on_the_interval_only_when_something_is_committable() -> None:
    due = {"batch_size": 500, "interval_s": 1.0}
    assert not commit_due(
        read_since_commit=900, seconds_since_commit=9.0, has_committable=False, **due
    )
    assert commit_due(read_since_commit=0, seconds_since_commit=1.0, has_committable=True, **due)
    assert commit_due(read_since_commit=500, seconds_since_commit=0.0, has_committable=True, **due)
    assert not commit_due(
        read_since_commit=10, seconds_since_commit=0.5, has_committable=True, **due
    )


def test_a_reply_confirmed_after_the_last_read_is_committed_without_new_input() -> None:
    consumer = FakeConsumer([[record(0, 0, "!nosuchcommand")]])
    dispatcher = FakeDispatcher()

    def confirm_later(c: FakeConsumer) -> None:
        dispatcher.confirm_on_poll = c.reads >= 3  # two ticks after the read

    consumer.on_read = confirm_later
    stop = StopAfter(consumer, calls=6)
    make_loop(consumer, dispatcher).run(stop)
    assert stop.commits_before_stop is not None
    assert {(TOPIC, 0): 1} in stop.commits_before_stop


def test_a_failed_commit_is_retried_on_the_next_tick() -> None:
    consumer = FakeConsumer([[record(0, 0, "!ping")]], fail_commits=1)
    stop = StopAfter(consumer, calls=4)
    make_loop(consumer, FakeDispatcher()).run(stop)
    assert stop.commits_before_stop == [{(TOPIC, 0): 1}]


def test_a_publish_retry_keeps_polling_with_the_partitions_paused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(loop_module, "_RETRY_FIRST_S", 0.001)
    consumer = FakeConsumer([[record(0, 0, "!ping")], [record(1, 7, "!ping")]], partitions=(0, 1))
    dispatcher = FakeDispatcher(failures=2)
    calls_at_send: list[int] = []
    original = dispatcher.dispatch

    def dispatch(decision: Decision, rec: Any, done: Done) -> None:
        calls_at_send.append(consumer.reads)
        original(decision, rec, done)

    dispatcher.dispatch = dispatch  # type: ignore[method-assign]
    stop = StopAfter(consumer, calls=1, until=lambda: len(dispatcher.sent) == 2)
    make_loop(consumer, dispatcher).run(stop)
    # the loop polled between the failed attempts, so the group still sees a live member
    assert calls_at_send[0] < calls_at_send[1] < calls_at_send[2]
    assert consumer.pause_calls >= 1
    assert consumer.resume_calls >= 1
    assert consumer.paused == set()
    # partition 1's record came in during the retry: put back, and handled after it
    assert consumer.seeks == [(TOPIC, 1, 7)]
    assert len(calls_at_send) == 4
    assert stop.commits_before_stop is not None
    latest = {key: offset for commit in stop.commits_before_stop for key, offset in commit.items()}
    assert latest == {(TOPIC, 0): 1, (TOPIC, 1): 8}


def test_lag_uses_cached_watermarks_and_never_blocks_on_the_broker() -> None:
    consumer = FakeConsumer([], partitions=(0, 1))
    loop = make_loop(consumer, FakeDispatcher())
    assert loop.lag() == 2 * (12 - 5)
    assert consumer.watermark_kwargs
    assert all(kwargs.get("cached") is True for kwargs in consumer.watermark_kwargs)


def test_a_partition_leaving_while_paused_is_resumed_as_it_goes() -> None:
    # librdkafka keeps a pause across rebalances: handed back later, it would stay stuck
    consumer = FakeConsumer([], partitions=(0, 1, 2))
    loop = make_loop(consumer, FakeDispatcher())
    consumer.pause([TopicPartition(TOPIC, p) for p in (0, 1, 2)])
    loop._on_revoke(consumer, [TopicPartition(TOPIC, 0)])  # type: ignore[arg-type]
    loop._on_lost(consumer, [TopicPartition(TOPIC, 1)])  # type: ignore[arg-type]
    assert consumer.paused == {(TOPIC, 2)}
