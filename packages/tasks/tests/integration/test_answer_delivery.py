"""An answer Kafka does not take is never acked away: the task's handler raises.

Tasks are acked late, so ``on_success``/``on_failure`` may return only once the
answer is confirmed. A real refusal comes from the real broker: the speak topic
here allows 100-byte records, and every SpeakMessage is larger.
"""

from __future__ import annotations

import uuid

import pytest
from celery.exceptions import Reject

from kelery.common.contracts import CHAT_TASKS, REPLY_TO_KWARG, ReplyTo
from kelery.common.settings import KafkaSettings
from kelery.common.topics import TopicSpec, ensure_topics
from kelery.tasks.factory import create_app
from kelery.tasks.publisher import DeliveryFailedError
from kelery.tasks.settings import TasksSettings
from kelery.tasks.transport import PublishError

pytestmark = pytest.mark.integration

REPLY = {REPLY_TO_KWARG: ReplyTo(channel_id="7", in_reply_to="m-7").model_dump()}


def _app(kafka: str, speak_topic: str):  # type: ignore[no-untyped-def]
    settings = TasksSettings(
        kafka=KafkaSettings(bootstrap_servers=kafka),  # type: ignore[arg-type]
        celery_broker_url="memory://",
        speak_topic=speak_topic,
    )
    return create_app(settings)


def test_an_answer_the_broker_refuses_raises_and_is_not_acked(kafka: str) -> None:
    topic = f"kelery-tiny-speak-{uuid.uuid4().hex[:8]}"
    ensure_topics(
        KafkaSettings(bootstrap_servers=kafka),  # type: ignore[arg-type]
        [TopicSpec(topic, partitions=1, config={"max.message.bytes": "100"})],
    )
    app = _app(kafka, topic)
    ping = app.tasks[CHAT_TASKS["ping"]]
    # Refused for good (too large): Reject without requeue, so the transport dead-letters it.
    with pytest.raises(Reject) as info:
        ping.on_success("pong", "t-1", (), REPLY)
    assert info.value.requeue is False
    assert isinstance(info.value.__cause__, DeliveryFailedError)
    assert "t-1" in str(info.value.reason)
    with pytest.raises(Reject):
        ping.on_failure(ValueError("boom"), "t-2", (), REPLY, None)


def test_a_confirmed_answer_returns(kafka: str) -> None:
    topic = f"kelery-speak-{uuid.uuid4().hex[:8]}"
    ensure_topics(KafkaSettings(bootstrap_servers=kafka), [TopicSpec(topic, partitions=1)])  # type: ignore[arg-type]
    app = _app(kafka, topic)
    app.tasks[CHAT_TASKS["ping"]].on_success("pong", "t-3", (), REPLY)
    app.kelery.producer.flush(0)


def test_a_reminder_the_broker_refuses_fails_the_remind_task(kafka: str) -> None:
    # The queue topic takes 300-byte records: the remind_due task message is larger.
    run = uuid.uuid4().hex[:8]
    kafka_settings = KafkaSettings(bootstrap_servers=kafka)  # type: ignore[arg-type]
    speak = f"kelery-speak-{run}"
    ensure_topics(
        kafka_settings,
        [
            TopicSpec(f"kr-{run}.q", partitions=1, config={"max.message.bytes": "300"}),
            TopicSpec(speak, partitions=1),
        ],
    )
    app = create_app(
        TasksSettings(
            kafka=kafka_settings,
            celery_broker_transport_options={"topic_prefix": f"kr-{run}.", "partitions": 1},
            task_queue="q",
            speak_topic=speak,
        )
    )
    try:
        result = app.tasks[CHAT_TASKS["remind"]].apply(args=("10m", "stretch"), kwargs=REPLY)
        assert result.failed()
        assert isinstance(result.result, PublishError)
        assert "refused" in str(result.result)
    finally:
        app.close()
