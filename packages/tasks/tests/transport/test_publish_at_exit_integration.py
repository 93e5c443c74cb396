"""A process that publishes and exits at once loses nothing.

Publishing never flushes, so the last tasks of a script that calls
``send_task`` and ends are still in librdkafka's queue when the interpreter
exits; without the exit hook every one of them was lost, with no error. Each
case runs in its own Python process, on the real broker.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

pytestmark = pytest.mark.integration

TASKS = 500

# Sends TASKS tasks and ends as the last argument says, never closing anything.
SCRIPT = """
import os, sys
from celery import Celery
from celery.signals import worker_process_shutdown
import kelery.tasks.transport  # the kelery+kafka:// scheme

kafka, queue, prefix, count, ending = sys.argv[1:]
app = Celery("exits", broker=f"kelery+kafka://{kafka}")
app.conf.broker_transport_options = {"topic_prefix": prefix, "partitions": 3}
for number in range(int(count)):
    app.send_task("exits.noop", args=(number,), queue=queue)
if ending == "pool-child":
    # What a Celery prefork child does when it is recycled or stopped:
    # billiard sends worker_process_shutdown, then leaves through os._exit.
    worker_process_shutdown.send(sender=None, pid=os.getpid(), exitcode=0)
    os._exit(0)
"""


def _records_in(kafka: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": kafka, "group.id": f"count-{uuid.uuid4().hex}"})
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        total = 0
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), 30)
            total += high - low
        return total
    finally:
        consumer.close()


@pytest.mark.parametrize("ending", ["interpreter-exit", "pool-child"])
def test_every_task_published_just_before_exit_reaches_kafka(kafka: str, ending: str) -> None:
    run = uuid.uuid4().hex[:8]
    prefix, queue = f"kexit-{run}.", "jobs"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, kafka, queue, prefix, str(TASKS), ending],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "unconfirmed" not in done.stderr
    assert _records_in(kafka, prefix + queue) == TASKS
