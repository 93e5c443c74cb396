"""Proof that the session's broker is a real Apache Kafka, through the pytest plugin."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from kelery.devkit.kafka.connect import KafkaEndpoint
from kelery.devkit.kafka.provider import ProviderKind
from kelery.devkit.pytest_plugin import TopicFactory
from kelery.devkit.topics import unique_topic_name

pytestmark = pytest.mark.integration

LOG = logging.getLogger(__name__)
RECORDS = 1_000
PATIENCE_S = 120.0  # a hang guard on a busy 2-core machine, not a performance claim


@contextmanager
def _consumer(kafka: str, group: str) -> Iterator[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": kafka,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        yield consumer
    finally:
        consumer.close()


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")


def test_broker_is_a_real_apache_kafka(
    kafka: str, kafka_endpoint: KafkaEndpoint, topic_factory: TopicFactory
) -> None:
    LOG.info("running against %s", kafka_endpoint.describe())
    print(f"broker: {kafka_endpoint.describe()}")
    if kafka_endpoint.kind is ProviderKind.LOCAL:
        assert kafka_endpoint.version is not None
        assert int(kafka_endpoint.version.split(".")[0]) >= 4

    topic = topic_factory(3)
    delivered: list[Message] = []
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            errors.append(err)
        else:
            delivered.append(msg)

    producer = Producer({"bootstrap.servers": kafka, "acks": "all", "enable.idempotence": True})
    for i in range(RECORDS):
        producer.produce(
            topic, key=str(i).encode(), value=f"v{i}".encode(), on_delivery=on_delivery
        )
        producer.poll(0)
    assert producer.flush(PATIENCE_S) == 0
    assert errors == []
    assert len(delivered) == RECORDS
    assert {m.partition() for m in delivered} == {0, 1, 2}

    group = unique_topic_name("group")
    seen: dict[bytes, bytes] = {}
    with _consumer(kafka, group) as consumer:
        consumer.subscribe([topic])

        def read_all() -> bool:
            for msg in consumer.consume(num_messages=500, timeout=1.0):
                assert msg.error() is None, msg.error()
                seen[msg.key()] = msg.value()
            return len(seen) >= RECORDS

        _until(read_all, f"{RECORDS} records")
        consumer.commit(asynchronous=False)
    assert seen == {str(i).encode(): f"v{i}".encode() for i in range(RECORDS)}

    with _consumer(kafka, group) as again:
        again.subscribe([topic])
        extra: list[Message] = []

        def assigned() -> bool:
            extra.extend(again.consume(num_messages=100, timeout=0.5))
            return len(again.assignment()) == 3

        _until(assigned, "the second consumer's partition assignment")
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            extra.extend(again.consume(num_messages=100, timeout=0.5))
        assert [m for m in extra if m.error() is None] == []
        committed = again.committed([TopicPartition(topic, p) for p in range(3)], timeout=30)
        assert sum(tp.offset for tp in committed) == RECORDS
