"""``queue_purge`` and ``celery purge`` delete the waiting tasks from the queue topic."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import kombu
import pytest
from confluent_kafka import Consumer, TopicPartition

from kelery.tasks.transport import confirm_published

from .conftest import APP_MODULE, HERE, TransportEnv

pytestmark = pytest.mark.integration


def _connection(kafka: str, prefix: str, group: str) -> kombu.Connection:
    return kombu.Connection(
        f"kelery+kafka://{kafka}",
        transport_options={"topic_prefix": prefix, "group_id": group, "partitions": 3},
    )


def _drain(connection: kombu.Connection, queue: kombu.Queue, count: int) -> list[Any]:
    received: list[Any] = []

    def take(body: Any, message: kombu.Message) -> None:
        received.append(body)
        message.ack()

    with connection.Consumer([queue], callbacks=[take], prefetch_count=1):
        while len(received) < count:
            connection.drain_events(timeout=60)
    return received


def _watermarks(kafka: str, topic: str) -> list[tuple[int, int]]:
    consumer = Consumer({"bootstrap.servers": kafka, "group.id": f"wm-{uuid.uuid4().hex}"})
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        return [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            for p in sorted(partitions)
        ]
    finally:
        consumer.close()


def test_purge_counts_what_the_group_left_and_keeps_later_messages(kafka: str) -> None:
    run = uuid.uuid4().hex[:8]
    prefix, group = f"kpurge-{run}.", f"kpurge-{run}"
    queue = kombu.Queue("jobs", routing_key="jobs")
    with _connection(kafka, prefix, group) as connection:
        producer = connection.Producer()
        for n in range(20):
            producer.publish({"n": n}, exchange=queue.exchange, routing_key="jobs", declare=[queue])
        confirm_published(60)
        assert len(_drain(connection, queue, 5)) == 5
    # closing committed the 5 acked ones: 15 are left for the group
    with _connection(kafka, prefix, group) as connection:
        assert connection.default_channel.queue_purge("jobs") == 15
        assert all(low == high for low, high in _watermarks(kafka, prefix + "jobs"))
        producer = connection.Producer()
        for n in range(100, 103):
            producer.publish({"n": n}, exchange=queue.exchange, routing_key="jobs", declare=[queue])
        confirm_published(60)
        later = _drain(connection, queue, 3)
    assert sorted(body["n"] for body in later) == [100, 101, 102]


def test_purge_of_a_queue_without_a_topic_is_zero_and_creates_nothing(kafka: str) -> None:
    run = uuid.uuid4().hex[:8]
    with _connection(kafka, f"kpurge-{run}.", f"kpurge-{run}") as connection:
        assert connection.default_channel.queue_purge("never-declared") == 0
        topics = connection.default_channel._transport.admin.list_topics(timeout=30).topics
    assert f"kpurge-{run}.never-declared" not in topics


def test_celery_purge_empties_the_task_queue(transport_env: TransportEnv) -> None:
    app = transport_env.load_app().app
    for n in range(10):
        app.send_task("ktt.record", args=("purged", n))
    confirm_published(60)
    done = subprocess.run(
        [sys.executable, "-m", "celery", "-A", APP_MODULE, "purge", "-f"],
        cwd=HERE,
        env=transport_env.env("purge"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    app.close()
    assert done.returncode == 0, done.stderr
    assert "Purged 10 messages" in done.stdout
    marks = _watermarks(transport_env.bootstrap, transport_env.topic("tq"))
    assert all(low == high for low, high in marks)
