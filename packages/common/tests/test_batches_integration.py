"""poll_batch against a real broker: a lone record at once, a backlog in batches."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from kelery.common.batches import poll_batch
from kelery.common.kafka_config import client_config
from kelery.common.settings import KafkaSettings
from kelery.devkit.waiting import wait_until

pytestmark = pytest.mark.integration

LONG_TIMEOUT_S = 5.0
BACKLOG = 100
LIMIT = 30


def _clients(kafka: str, topic: str) -> tuple[Producer, Consumer]:
    settings = KafkaSettings(bootstrap_servers=[kafka])
    group = f"batches-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(client_config(settings, "consumer", group_id=group))
    consumer.assign([TopicPartition(topic, 0, 0)])
    return Producer(client_config(settings, "producer", linger_ms=0)), consumer


def test_a_lone_record_comes_at_once_not_when_the_timeout_ends(
    kafka: str, topic_factory: Callable[..., str]
) -> None:
    # consume(500, timeout=5) would hold this one record for the whole 5 s.
    topic = topic_factory()
    producer, consumer = _clients(kafka, topic)
    try:
        assert poll_batch(consumer, 500, 0.5) == []  # fetching an empty partition now
        producer.produce(topic, b"alone")
        assert producer.flush(30) == 0
        acked = time.monotonic()
        batch = poll_batch(consumer, 500, LONG_TIMEOUT_S)
        waited = time.monotonic() - acked
    finally:
        consumer.close()
    assert [record.value() for record in batch] == [b"alone"]
    assert waited < 1.0, f"the record was held {waited:.2f} s"


def test_a_backlog_comes_in_order_in_batches_of_at_most_the_limit(
    kafka: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory()
    producer, consumer = _clients(kafka, topic)
    for n in range(BACKLOG):
        producer.produce(topic, str(n).encode())
    assert producer.flush(30) == 0
    sizes: list[int] = []
    values: list[bytes] = []

    def read_all() -> bool:
        batch = poll_batch(consumer, LIMIT, 0.5)
        if batch:
            sizes.append(len(batch))
            values.extend(record.value() or b"" for record in batch if record.error() is None)
        return len(values) >= BACKLOG

    try:
        wait_until(read_all, f"{BACKLOG} records")
        assert poll_batch(consumer, LIMIT, 0.5) == []  # and nothing twice
    finally:
        consumer.close()
    assert values == [str(n).encode() for n in range(BACKLOG)]
    assert max(sizes) == LIMIT, sizes  # records already fetched come together...
    assert all(size <= LIMIT for size in sizes)  # ...never more than asked for
