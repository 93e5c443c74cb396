"""One idempotent producer per process and Kafka config, shared by every channel.

librdkafka producers are thread-safe and expensive (threads per broker), and
Celery opens many connections (pool, events, pidbox), so the transport keeps one
per distinct client config per process. Publishing never flushes: ``produce`` is
queued and ``poll(0)`` serves delivery reports; callers that need the broker's
word wait on :func:`wait_delivered`. A child process forked by Celery's prefork
pool must not touch its parent's librdkafka threads, so the cache is keyed by pid
and inherited handles are left alone (kept referenced so they are never
destroyed in the child).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from kelery.common.delivery import produce_when_room
from kelery.tasks.transport.errors import PublishError

log = logging.getLogger(__name__)

_lock = threading.Lock()
_producers: dict[tuple[int, str], Producer] = {}
_inherited: list[Producer] = []
_failures: deque[str] = deque(maxlen=100)


def _forget_after_fork() -> None:
    """In a forked child: drop the parent's producers without destroying them."""
    _inherited.extend(_producers.values())
    _producers.clear()
    _failures.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def shared_producer(config: dict[str, Any]) -> Producer:
    """The process's producer for ``config`` (created on first use)."""
    key = (os.getpid(), json.dumps(config, sort_keys=True, default=str))
    with _lock:
        producer = _producers.get(key)
        if producer is None:
            producer = Producer(config)
            _producers[key] = producer
        return producer


def record_failure(error: KafkaError | None, record: Message) -> None:
    """Delivery callback for publishes: remember a final refusal, log it."""
    if error is None:
        return
    log.error("publish to %s failed for good: %s", record.topic(), error.str())
    _failures.append(f"{record.topic()}: {error.str()}")


def raise_failures() -> None:
    """Raise PublishError if a message published by this process was finally refused."""
    if not _failures:
        return
    errors = []
    while _failures:
        try:
            errors.append(_failures.popleft())
        except IndexError:
            break
    raise PublishError(
        f"{len(errors)} published message(s) were refused by Kafka: " + "; ".join(errors[:5])
    )


def flush_all(timeout: float) -> int:
    """Wait for every pending publish of this process; return how many are unconfirmed."""
    with _lock:
        producers = [p for (pid, _), p in _producers.items() if pid == os.getpid()]
    remaining = 0
    deadline = time.monotonic() + timeout
    for producer in producers:
        remaining += producer.flush(max(0.0, deadline - time.monotonic()))
    return remaining


_POLL_EVERY_S = 0.005
_last_poll = 0.0


def produce(producer: Producer, topic: str, **kwargs: Any) -> None:
    """``produce`` that waits for room when librdkafka's local queue is full, never drops.

    Delivery reports are served by a ``poll(0)`` at most every 5 ms rather than
    after each record (a poll right after a produce costs more than the produce).
    """
    global _last_poll  # noqa: PLW0603 - one clock per process, like the producers
    produce_when_room(producer, lambda: producer.produce(topic, **kwargs))
    now = time.monotonic()
    if now - _last_poll >= _POLL_EVERY_S:
        _last_poll = now
        producer.poll(0)


def wait_delivered(producer: Producer, done: threading.Event, timeout: float) -> bool:
    """Serve delivery reports until ``done`` is set or ``timeout`` passes; True if done."""
    deadline = time.monotonic() + timeout
    while not done.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        producer.poll(min(remaining, 0.05))
    return True
