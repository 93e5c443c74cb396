"""In a real prefork worker, an answer Kafka refuses keeps the task from being acked away.

The speak topic takes 100-byte records, so every answer is refused for good:
``on_success`` raises Reject without requeue and the Kafka transport moves the
task message to ``<queue>.dlq`` instead of acking it (before the fix the answer
was only logged as lost and the task acked).
"""

from __future__ import annotations

import pytest

from kelery.common.contracts import CHAT_TASKS
from kelery.common.settings import KafkaSettings
from kelery.common.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration


def test_a_refused_answer_sends_the_task_to_the_dlq_not_to_oblivion(tasks_stack) -> None:
    stack = tasks_stack
    ensure_topics(
        KafkaSettings(bootstrap_servers=stack.kafka),  # type: ignore[arg-type]
        [TopicSpec(stack.settings.speak_topic, partitions=1, config={"max.message.bytes": "100"})],
    )
    stack.start_worker("refused")
    task_id = stack.send_command(CHAT_TASKS["ping"], channel_id="9")
    stack.wait_dead_letter(task_id)
    stack.processes[0].wait_for_log("answer not delivered, task dead-lettered")
