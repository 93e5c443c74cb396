"""In a real prefork worker, an answer Kafka refuses keeps the task from being acked away.

The speak topic takes 100-byte records, so every answer is refused for good:
``on_success`` raises Reject without requeue and the Kafka transport moves the
task message to ``<queue>.dlq`` instead of acking it (before the fix the answer
was only logged as lost and the task acked).
"""

from __future__ import annotations

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from kelery.common.contracts import CHAT_TASKS
from kelery.common.dlq import dlq_topic_for, header_value
from kelery.common.settings import KafkaSettings
from kelery.common.topics import TopicSpec, ensure_topics
from kelery.devkit.topics import unique_topic_name

pytestmark = pytest.mark.integration


def test_a_refused_answer_sends_the_task_to_the_dlq_not_to_oblivion(tasks_stack) -> None:
    stack = tasks_stack
    ensure_topics(
        KafkaSettings(bootstrap_servers=stack.kafka),  # type: ignore[arg-type]
        [TopicSpec(stack.settings.speak_topic, partitions=1, config={"max.message.bytes": "100"})],
    )
    stack.start_worker("refused")
    task_id = stack.send_command(CHAT_TASKS["ping"], channel_id="9")
    dlq = dlq_topic_for(stack.queue_topic)
    reader = Consumer({"bootstrap.servers": stack.kafka, "group.id": unique_topic_name("dlq")})
    try:
        found = None
        for _ in range(180):  # up to ~90 s: a safety net, not a speed claim
            if dlq not in reader.list_topics(timeout=10).topics:
                reader.poll(0.5)
                continue
            if not reader.assignment():
                reader.assign([TopicPartition(dlq, 0, OFFSET_BEGINNING)])
            record = reader.poll(0.5)
            if (
                record is not None
                and record.error() is None
                and header_value(record.headers(), "id") == f'"{task_id}"'
            ):
                found = record
                break
        assert found is not None, f"task {task_id} never reached {dlq}\n{stack.processes[0].log()}"
    finally:
        reader.close()
    assert "answer not delivered, task dead-lettered" in stack.processes[0].log()
