"""Tasks published to Kelery's own Celery-on-Kafka transport (the default broker)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from kombu import Connection

from kelery.common.contracts import CHAT_TASKS, DEFAULT_QUEUE, REPLY_TO_KWARG
from kelery.common.schemas import ChatMessage
from kelery.common.settings import KafkaSettings
from kelery.consumer.dispatch import celery_broker_config

from .conftest import ConsumerCli, committed, produce

pytestmark = pytest.mark.integration


def test_commands_reach_a_kafka_transport_queue_a_worker_can_read(
    kafka: str, unique_topic: str, tmp_path: Path, cli_factory: Callable[..., ConsumerCli]
) -> None:
    transport_options = {
        "topic_prefix": f"{unique_topic}.",
        "group_id": f"{unique_topic}.workers",
        "partitions": 1,
    }
    message = ChatMessage(content="!echo over kafka", channel_id="5")
    produce(kafka, unique_topic, [message.to_json_bytes()])
    cli = cli_factory(
        KAFKA_BOOTSTRAP_SERVERS=kafka,
        CONSUMER_TOPICS=unique_topic,
        CONSUMER_GROUP_ID=f"{unique_topic}.group",
        SPEAK_TOPIC=f"{unique_topic}.speak",
        CELERY_BROKER_TRANSPORT_OPTIONS=json.dumps(transport_options),
    )

    result = cli.run("--stop-at-end")  # no CELERY_BROKER_URL: Kelery's Kafka transport

    assert result.returncode == 0, result.stderr
    assert "publishing tasks to kelery+kafka://" in result.stderr
    config = celery_broker_config(None, transport_options, KafkaSettings(bootstrap_servers=[kafka]))
    with Connection(
        config["broker_url"],
        transport=config["broker_transport"],
        transport_options=config["broker_transport_options"],
    ) as conn:
        queue = conn.SimpleQueue(DEFAULT_QUEUE)
        try:
            received = queue.get(timeout=60)
            args, kwargs, _embed = received.payload
            received.ack()
        finally:
            queue.close()
    assert received.headers["task"] == CHAT_TASKS["echo"]
    assert args == ["over", "kafka"]
    assert kwargs[REPLY_TO_KWARG]["in_reply_to"] == message.uuid
    assert committed(kafka, f"{unique_topic}.group", unique_topic) == [1]
