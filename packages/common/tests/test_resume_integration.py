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
    settings = KafkaSettings(bootstrap_servers=[kafka])
    topic = topic_factory(partitions=PARTITIONS)
    producer = Producer(client_config(settings, "producer"))
    for n in range(PARTITIONS * PER_PARTITION):
        producer.produce(topic, value=str(n).encode(), partition=n % PARTITIONS)
    assert producer.flush(30) == 0
    consumer = Consumer(
        client_config(settings, "consumer", **{"group.id": f"resume-{uuid.uuid4().hex[:8]}"})
    )
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
