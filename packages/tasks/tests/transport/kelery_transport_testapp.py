"""A tiny Celery app for the transport's integration tests, run by real workers.

Configured from the environment the test sets (broker, topic prefix, group,
where to record executions), so the test process and the worker processes it
starts share one configuration. Each execution appends ``<tag> <n> <hostname>``
to a file: the test counts those lines.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from celery import Celery
from celery.exceptions import Reject

from kelery.common.settings import KafkaSettings
from kelery.tasks.transport import celery_config

QUEUE = "tq"

app = Celery("kelery_transport_testapp")
app.conf.update(
    celery_config(
        KafkaSettings(bootstrap_servers=os.environ["KELERY_TEST_KAFKA"]),
        topic_prefix=os.environ["KTT_PREFIX"],
        group_id=os.environ["KTT_GROUP"],
        # A killed worker's partitions move to the survivor after this, not 45 s.
        consumer_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
    ),
    task_default_queue=QUEUE,
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=4,
    broker_connection_retry_on_startup=True,
    result_backend=os.environ.get("KTT_RESULT_BACKEND") or None,  # e.g. rpc://
)


def _record(tag: str, n: int) -> None:
    line = f"{tag} {n} {os.environ.get('KTT_NAME', '?')}\n"
    with Path(os.environ["KTT_RECORD"]).open("a", encoding="utf-8") as out:
        out.write(line)


# shared=False throughout: the tests load this module once per test, each time under
# a new name, and shared tasks would attach to every app made later in the same
# pytest process (the unit tests' apps), where Celery 5.7 warns of duplicate names.
@app.task(name="ktt.record", shared=False)
def record(tag: str, n: int, sleep: float = 0.0) -> int:
    """Record one execution (after ``sleep`` seconds)."""
    if sleep:
        time.sleep(sleep)
    _record(tag, n)
    return n


@app.task(name="ktt.poison", shared=False)
def poison(tag: str) -> None:
    """Refuse the message for good: Celery rejects it without requeue."""
    raise Reject(f"poison {tag}", requeue=False)


@app.task(name="ktt.retry_once", shared=False, bind=True, max_retries=3)
def retry_once(self: Any, tag: str, n: int) -> int:
    """Fail the first attempt and retry with a countdown; record the attempt that runs."""
    if self.request.retries == 0:
        raise self.retry(countdown=1)
    _record(tag, n)
    return int(self.request.retries)


@app.task(name="ktt.die_once", shared=False, bind=True)
def die_once(self: Any, tag: str, n: int) -> int:
    """Kill the pool process on the first delivery; run on the requeued copy."""
    if not (self.request.delivery_info or {}).get("redelivered"):
        os.kill(os.getpid(), signal.SIGKILL)
    _record(tag, n)
    return n


@app.task(name="ktt.fail", shared=False)
def fail(message: str) -> None:
    """Raise, so the caller's result is a failure."""
    raise ValueError(message)
