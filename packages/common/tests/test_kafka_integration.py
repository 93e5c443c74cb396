"""kelery-common's Kafka helpers against a real broker."""

import json
import subprocess
import sys
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from kelery.common.delivery import DeliveryTracker
from kelery.common.dlq import (
    ERROR_HEADER,
    ORIGIN_OFFSET_HEADER,
    ORIGIN_PARTITION_HEADER,
    ORIGIN_TOPIC_HEADER,
    STAGE_HEADER,
    dead_letter,
    dlq_topic_for,
    header_value,
)
from kelery.common.kafka_config import client_config
from kelery.common.settings import KafkaSettings
from kelery.common.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration


def _settings(kafka: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=[kafka])


_RACER = """
import sys
from kelery.common.settings import KafkaSettings
from kelery.common.topics import TopicSpec, ensure_topics
created = ensure_topics(KafkaSettings(bootstrap_servers=[sys.argv[1]]), [TopicSpec(sys.argv[2], 3)])
print(len(created))
"""


def test_ensure_topics_is_idempotent_and_safe_when_processes_race(kafka: str) -> None:
    name = f"t-race-{uuid.uuid4().hex[:8]}"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, kafka, name], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outputs = [racer.communicate(timeout=120)[0] for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0, 0], outputs
    assert sum(int(out.strip()) for out in outputs) <= 1  # at most one of them created it
    admin = AdminClient(client_config(_settings(kafka), "admin"))
    assert len(admin.list_topics(name, timeout=10).topics[name].partitions) == 3
    assert ensure_topics(admin, [TopicSpec(name, partitions=3)]) == []


def test_a_topic_ensure_topics_created_has_a_leader_for_every_partition(kafka: str) -> None:
    """The broker acks CreateTopics before its partitions have leaders; writes then meet
    NOT_LEADER_FOR_PARTITION, where librdkafka's idempotent producer can lose a record.
    ensure_topics returns only once every new partition's leader answers."""
    admin = AdminClient(client_config(_settings(kafka), "admin"))
    names = [f"t-ready-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    assert ensure_topics(admin, [TopicSpec(name, partitions=12) for name in names]) == names
    futures = admin.list_offsets(
        {TopicPartition(name, p): OffsetSpec.latest() for name in names for p in range(12)}
    )
    errors = []
    for tp, future in futures.items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            errors.append(f"{tp.topic}[{tp.partition}]: {exc}")
    assert errors == []


def test_dead_letter_keeps_the_record_and_says_why(kafka: str) -> None:
    settings = _settings(kafka)
    topic = f"t-dlq-{uuid.uuid4().hex[:8]}"
    ensure_topics(settings, [TopicSpec(topic, partitions=2), dlq_topic_for(topic)])
    producer = Producer(client_config(settings, "producer"))
    producer.produce(topic, key=b"k1", value=b"\xffnot json", headers=[("trace", b"abc")])
    assert producer.flush(10) == 0

    consumer = Consumer(client_config(settings, "consumer", group_id=f"g-{uuid.uuid4().hex}"))
    consumer.subscribe([topic])
    original = None
    for _ in range(60):
        original = consumer.poll(1.0)
        if original is not None and original.error() is None:
            break
    assert original is not None
    tracker = DeliveryTracker()
    target = dead_letter(producer, original, "not UTF-8", stage="test", on_delivery=tracker)
    assert producer.flush(10) == 0
    assert (target, tracker.delivered, tracker.failed) == (dlq_topic_for(topic), 1, 0)
    consumer.close()

    reader = Consumer(client_config(settings, "consumer", group_id=f"g-{uuid.uuid4().hex}"))
    reader.subscribe([target])
    copy = None
    for _ in range(60):
        copy = reader.poll(1.0)
        if copy is not None and copy.error() is None:
            break
    reader.close()
    assert copy is not None
    assert (copy.key(), copy.value()) == (b"k1", b"\xffnot json")
    headers = copy.headers()
    assert header_value(headers, "trace") == "abc"
    assert header_value(headers, ERROR_HEADER) == "not UTF-8"
    assert header_value(headers, ORIGIN_TOPIC_HEADER) == topic
    assert header_value(headers, ORIGIN_PARTITION_HEADER) == str(original.partition())
    assert header_value(headers, ORIGIN_OFFSET_HEADER) == str(original.offset())
    assert header_value(headers, STAGE_HEADER) == "test"


def test_delivery_tracker_counts_a_refused_record(kafka: str) -> None:
    settings = _settings(kafka)
    topic = f"t-big-{uuid.uuid4().hex[:8]}"
    ensure_topics(settings, [TopicSpec(topic, config={"max.message.bytes": "2000"})])
    tracker = DeliveryTracker()
    producer = Producer(client_config(settings, "producer", linger_ms=0))
    producer.produce(topic, value=json.dumps({"x": "y" * 5000}).encode(), on_delivery=tracker)
    producer.flush(30)  # alone: a refused batch fails every record in it
    producer.produce(topic, value=b"small", on_delivery=tracker)
    producer.flush(30)
    assert (tracker.delivered, tracker.failed) == (1, 1)
    assert "MSG_SIZE_TOO_LARGE" in tracker.errors[0] or "too large" in tracker.errors[0].lower()
