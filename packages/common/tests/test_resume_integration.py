"""resume_fetching against a real broker: a paused consumer goes on where it stopped."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from kelery.common.kafka_config import client_config
from kelery.common.resume import resume_fetching
from kelery.common.settings import KafkaSettings
from kelery.devkit.waiting import wait_until

pytestmark = pytest.mark.integration

PARTITIONS = 3
PER_PARTITION = 40


def _load(kafka: str, topic: str, partitions: list[int]) -> KafkaSettings:
    """PER_PARTITION records in each of ``partitions`` of ``topic``; the settings used."""
    settings = KafkaSettings(bootstrap_servers=[kafka])
    producer = Producer(client_config(settings, "producer"))
    for n in range(len(partitions) * PER_PARTITION):
        producer.produce(topic, value=str(n).encode(), partition=partitions[n % len(partitions)])
    assert producer.flush(30) == 0
    return settings


def _consumer(settings: KafkaSettings, **config: object) -> Consumer:
    group = f"resume-{uuid.uuid4().hex[:8]}"
    return Consumer(client_config(settings, "consumer", **{"group.id": group, **config}))


def _read(consumer: Consumer, offsets: defaultdict[int, list[int]], until: int) -> None:
    def enough() -> bool:
        for record in consumer.consume(num_messages=10, timeout=0.1):
            if record.error() is None:
                offsets[record.partition() or 0].append(record.offset() or 0)
        return sum(map(len, offsets.values())) >= until

    wait_until(enough, f"{until} records")


def test_a_resumed_consumer_reads_every_record_once_and_in_order(
    kafka: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory(partitions=PARTITIONS)
    consumer = _consumer(_load(kafka, topic, list(range(PARTITIONS))))
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        offsets: defaultdict[int, list[int]] = defaultdict(list)
        _read(consumer, offsets, until=PER_PARTITION)  # some of it, from some partitions
        partitions = consumer.assignment()
        consumer.pause(partitions)  # drops what librdkafka had fetched ahead
        paused_until = time.monotonic() + 0.5
        while time.monotonic() < paused_until:
            assert consumer.poll(0.05) is None  # paused: nothing is handed over
        resume_fetching(consumer, partitions)
        _read(consumer, offsets, until=PARTITIONS * PER_PARTITION)
        assert consumer.consume(num_messages=10, timeout=0.5) == []  # and nothing twice
    finally:
        consumer.close()
    assert dict(offsets) == {p: list(range(PER_PARTITION)) for p in range(PARTITIONS)}


def test_resuming_does_not_wait_behind_a_fetch_the_broker_is_holding(
    kafka: str, topic_factory: Callable[..., str]
) -> None:
    # The broker answers one connection's requests in order, and holds a fetch of
    # idle partitions for fetch.wait.max.ms (3 s here): the wake-up's answer comes
    # after that fetch's. A worker's consumer thread that waited for it stood idle.
    topic = topic_factory(partitions=2)
    settings = _load(kafka, topic, [0])  # partition 1 stays empty
    consumer = _consumer(settings, **{"fetch.wait.max.ms": 3000})
    busy = TopicPartition(topic, 0)
    try:
        consumer.assign([TopicPartition(topic, 0, 0), TopicPartition(topic, 1, 0)])
        offsets: defaultdict[int, list[int]] = defaultdict(list)
        _read(consumer, offsets, until=1)
        consumer.pause([busy])  # now only the empty partition is fetched: held 3 s
        held_until = time.monotonic() + 0.5
        while time.monotonic() < held_until:
            assert consumer.poll(0.05) is None
        started = time.monotonic()
        resume_fetching(consumer, [busy])
        assert time.monotonic() - started < 0.5  # not the held fetch's 3 s (nor 1 s)
        _read(consumer, offsets, until=PER_PARTITION)
    finally:
        consumer.close()
    assert dict(offsets) == {0: list(range(PER_PARTITION))}
