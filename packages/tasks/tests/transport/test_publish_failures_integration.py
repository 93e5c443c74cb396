"""A publish the broker finally refuses raises in the caller; it never vanishes.

The broker refuses a record larger than its topic's ``max.message.bytes`` (the
client's own limit is far higher, so the refusal really comes from the broker).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import kombu
import pytest

from kelery.common.settings import KafkaSettings
from kelery.common.topics import TopicSpec, ensure_topics
from kelery.tasks.transport import PublishError, confirm_published

pytestmark = pytest.mark.integration

BIG = "x" * 20_000


@pytest.fixture
def small_queue(kafka: str) -> Iterator[tuple[kombu.Connection, str]]:
    run = uuid.uuid4().hex[:8]
    prefix = f"kpf-{run}."
    ensure_topics(
        KafkaSettings(bootstrap_servers=kafka),  # type: ignore[arg-type]
        [TopicSpec(prefix + "small", partitions=1, config={"max.message.bytes": "2000"})],
    )
    connection = kombu.Connection(
        f"kelery+kafka://{kafka}", transport_options={"topic_prefix": prefix, "partitions": 1}
    )
    yield connection, prefix
    connection.close()


def test_confirm_published_raises_for_a_refused_message(
    small_queue: tuple[kombu.Connection, str],
) -> None:
    connection, _ = small_queue
    producer = connection.Producer()
    producer.publish(BIG, routing_key="small")
    with pytest.raises(PublishError, match="small"):
        confirm_published(60)
    producer.publish("fits", routing_key="small")
    confirm_published(60)  # the failure was reported once; later publishes are fine


def test_the_next_publish_raises_after_a_refusal(small_queue: tuple[kombu.Connection, str]) -> None:
    connection, _ = small_queue
    producer = connection.Producer()
    producer.publish(BIG, routing_key="small")
    deadline = time.monotonic() + 60
    with pytest.raises(PublishError, match="refused"):  # noqa: PT012 - publish until reported
        while time.monotonic() < deadline:
            producer.publish("fits", routing_key="small")
            time.sleep(0.05)


def test_confirm_publish_raises_in_the_same_publish(kafka: str) -> None:
    run = uuid.uuid4().hex[:8]
    prefix = f"kpf-{run}."
    ensure_topics(
        KafkaSettings(bootstrap_servers=kafka),  # type: ignore[arg-type]
        [TopicSpec(prefix + "small", partitions=1, config={"max.message.bytes": "2000"})],
    )
    with kombu.Connection(
        f"kelery+kafka://{kafka}",
        transport_options={"topic_prefix": prefix, "confirm_publish": True},
    ) as connection:
        producer = connection.Producer()
        producer.publish("fits", routing_key="small")
        with pytest.raises(PublishError, match="refused"):
            producer.publish(BIG, routing_key="small")
