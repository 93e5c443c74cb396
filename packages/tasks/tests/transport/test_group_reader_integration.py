"""The consumer thread on the real broker: flow control, alone and across a rebalance."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator

import pytest
from confluent_kafka import Producer

from kelery.common.kafka_config import client_config
from kelery.common.settings import KafkaSettings
from kelery.devkit.waiting import wait_until
from kelery.tasks.transport.group_reader import PAUSE_AFTER_S, GroupReader

pytestmark = pytest.mark.integration

RECORDS = 200
PARTITIONS = 4
MAX_BUFFERED = 5


def _drain(reader: GroupReader) -> list[tuple[int, int]]:
    """Take and ack every record ``reader`` holds: (partition, offset) of each."""
    taken = []
    while (item := reader.pop()) is not None:
        record, position = item
        taken.append((record.partition() or 0, record.offset() or 0))
        reader.ack(position)
    return taken


@pytest.fixture
def loaded_topic(kafka: str, topic_factory: Callable[..., str]) -> str:
    """A fresh topic of PARTITIONS partitions holding RECORDS records, spread evenly."""
    topic = topic_factory(partitions=PARTITIONS)
    producer = Producer(client_config(KafkaSettings(bootstrap_servers=kafka), "producer"))
    for n in range(RECORDS):
        producer.produce(topic, value=str(n).encode(), partition=n % PARTITIONS)
    assert producer.flush(30) == 0
    return topic


@pytest.fixture
def readers(kafka: str) -> Iterator[Callable[[str], GroupReader]]:
    group = f"reader-it-{uuid.uuid4().hex[:8]}"
    started: list[GroupReader] = []

    def start(topic: str) -> GroupReader:
        config = client_config(
            KafkaSettings(bootstrap_servers=kafka), "consumer", **{"group.id": group}
        )
        reader = GroupReader(
            config,
            wake=threading.Event(),
            poll_timeout=0.05,
            commit_interval=0.1,
            max_buffered=MAX_BUFFERED,
        )
        reader.set_topics([topic])
        started.append(reader)
        return reader

    yield start
    for reader in started:
        reader.close(10)


def test_a_reader_paused_by_a_stalled_worker_resumes_after_a_rebalance(
    loaded_topic: str, readers: Callable[[str], GroupReader]
) -> None:
    # librdkafka keeps a partition paused across a rebalance that gives it back;
    # a reader that forgot this stopped for good on those partitions.
    first = readers(loaded_topic)
    # a worker stuck in a long task: the buffer fills, then the partitions are paused
    wait_until(lambda: first._paused, "the stalled reader to pause its partitions")
    second = readers(loaded_topic)
    seen: set[tuple[int, int]] = set()

    def drain(reader: GroupReader) -> int:
        taken = _drain(reader)
        seen.update(taken)
        return len(taken)

    taken = {"first": 0, "second": 0}

    def second_has_some() -> bool:
        taken["second"] += drain(second)
        return taken["second"] > 0

    wait_until(second_has_some, "the second reader's share")
    time.sleep(PAUSE_AFTER_S)  # the rebalance is over: the first reader holds its new share

    def everything() -> bool:
        taken["first"] += drain(first)
        taken["second"] += drain(second)
        return len(seen) == RECORDS

    wait_until(everything, f"all {RECORDS} records (seen {len(seen)}, taken {taken})")
    assert taken["first"] > 0
    assert taken["second"] > 0


def test_a_paused_reader_resumes_where_it_stopped_in_every_partition(
    loaded_topic: str, readers: Callable[[str], GroupReader]
) -> None:
    # Resuming wakes librdkafka's fetcher; whatever does that must neither skip
    # records nor hand one over twice (a seek to a wrong offset would do either).
    reader = readers(loaded_topic)
    wait_until(lambda: reader._paused, "the stalled reader to pause its partitions")
    assert len(reader._buffer) <= MAX_BUFFERED  # fetched ahead: no more than max_buffered
    offsets: defaultdict[int, list[int]] = defaultdict(list)

    def everything() -> bool:
        for partition, offset in _drain(reader):
            offsets[partition].append(offset)
        return sum(map(len, offsets.values())) >= RECORDS

    wait_until(everything, f"all {RECORDS} records")
    time.sleep(0.5)  # a record handed over twice would arrive now
    everything()
    assert not reader._paused
    assert {p: sorted(o) for p, o in offsets.items()} == {
        p: list(range(RECORDS // PARTITIONS)) for p in range(PARTITIONS)
    }
    assert all(o == sorted(o) for o in offsets.values())
