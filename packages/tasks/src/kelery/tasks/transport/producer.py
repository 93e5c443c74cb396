"""One idempotent producer per process and Kafka config, shared by every channel.

librdkafka producers are thread-safe and expensive (threads per broker), and
Celery opens many connections (pool, events, pidbox), so the transport keeps one
per distinct client config per process. Publishing never flushes: ``produce`` is
queued and ``poll(0)`` serves delivery reports; callers that need the broker's
word wait on :func:`wait_delivered`. A child process forked by Celery's prefork
pool must not touch its parent's librdkafka threads, so the cache is keyed by pid
and inherited handles are left alone (kept referenced so they are never
destroyed in the child).

Because nothing flushes per message, a process that publishes and then exits
(a script calling ``task.delay()``, a pool child being recycled) would destroy
its producer with the messages still in librdkafka's queue: all of them lost,
with no error. So every process waits for its own unconfirmed publishes before
it exits: at interpreter exit (``atexit``) and, in a Celery prefork child that
leaves through ``os._exit``, on ``worker_process_shutdown``. The wait is the
longest ``close_timeout`` of the transports that made the process's producers;
what is still unconfirmed after it is logged as an error, counted.

A process done with Kafka before it exits (a test session whose broker is about
to stop, an application that embeds Celery and shuts it down) calls
:func:`close_producers`; otherwise the producers live as long as the process.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from collections import deque
from typing import Any

from celery.signals import worker_process_shutdown
from confluent_kafka import KafkaError, Message, Producer

from kelery.common.delivery import produce_when_room
from kelery.tasks.transport.errors import PublishError

log = logging.getLogger(__name__)

_lock = threading.Lock()
_producers: dict[tuple[int, str], Producer] = {}
_inherited: list[Producer] = []
_failures: deque[str] = deque(maxlen=100)
_exit_timeout: list[float] = []  # the close_timeout of each producer this process made
_generation = [0]  # bumped whenever the cache is emptied (a fork, close_producers)


def generation() -> int:
    """Changes whenever the cached producers are dropped: a holder of one fetches again."""
    return _generation[0]


def _forget_after_fork() -> None:
    """In a forked child: drop the parent's producers without destroying them."""
    _inherited.extend(_producers.values())
    _producers.clear()
    _failures.clear()
    _exit_timeout.clear()
    _generation[0] += 1


os.register_at_fork(after_in_child=_forget_after_fork)


def _identity(value: object) -> str:
    """A config value JSON cannot hold (a callback, a logger), keyed by the object itself.

    Not ``str``: a logger's text carries its current level, which logging setup
    changes, and one config must keep meaning one producer.
    """
    return f"{type(value).__qualname__}@{id(value):x}"


def shared_producer(config: dict[str, Any], *, exit_timeout: float) -> Producer:
    """The process's producer for ``config`` (created on first use).

    ``exit_timeout`` is how long this process's exit may wait for its publishes.
    """
    key = (os.getpid(), json.dumps(config, sort_keys=True, default=_identity))
    with _lock:
        producer = _producers.get(key)
        if producer is None:
            producer = Producer(config)
            _exit_timeout.append(exit_timeout)
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


def _flush_own(timeout: float) -> list[tuple[tuple[int, str], int]]:
    """Flush this process's producers within ``timeout`` in all: (cache key, unconfirmed) each."""
    with _lock:
        mine = [(key, p) for key, p in _producers.items() if key[0] == os.getpid()]
    deadline = time.monotonic() + timeout
    return [(key, p.flush(max(0.0, deadline - time.monotonic()))) for key, p in mine]


def flush_all(timeout: float) -> int:
    """Wait for every pending publish of this process; return how many are unconfirmed."""
    return sum(left for _, left in _flush_own(timeout))


def close_producers(timeout: float) -> int:
    """Flush this process's producers for up to ``timeout`` s, then drop those done.

    Returns how many publishes were still unconfirmed. librdkafka destroys each
    dropped producer (its threads and broker connections) when the last reference
    goes; a transport that publishes again afterwards gets a new one. A producer
    still holding unconfirmed publishes is kept, and logged, so that the
    process's exit waits for them again rather than losing them.
    """
    flushed = _flush_own(timeout)
    remaining = sum(left for _, left in flushed)
    with _lock:
        for key, left in flushed:
            if not left:
                _producers.pop(key, None)  # unless another close dropped it first
        if not _producers:
            _exit_timeout.clear()
        _generation[0] += 1
    if remaining:
        log.error(
            "%d published message(s) still unconfirmed by Kafka after %.1f s: their "
            "producer is kept, and the process's exit waits for them again",
            remaining,
            timeout,
        )
    return remaining


def flush_before_exit(**_signal_kwargs: Any) -> int:
    """Wait for this process's unconfirmed publishes; log and return what is left.

    Registered with ``atexit`` and Celery's ``worker_process_shutdown`` (which
    passes keyword arguments, ignored here).
    """
    if not _exit_timeout:  # this process made no producer (the fork hook clears the list)
        return 0
    timeout = max(_exit_timeout)
    remaining = flush_all(timeout)
    if remaining:
        log.error(
            "%d published message(s) still unconfirmed by Kafka %.1f s into this process's "
            "exit (close_timeout): they are lost unless the broker had already written them",
            remaining,
            timeout,
        )
    return remaining


atexit.register(flush_before_exit)
worker_process_shutdown.connect(flush_before_exit, weak=False)


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
