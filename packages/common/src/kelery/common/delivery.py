"""Count and remember delivery reports, so a producer can say exactly what failed.

librdkafka confirms every produced record through a callback served by
``poll``/``flush``. :class:`DeliveryTracker` is that callback: it counts
successes and failures and keeps the first few errors, and it is what a CLI
reads to exit non-zero and say how many messages were lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import KafkaError, Message

log = logging.getLogger(__name__)

KEEP_ERRORS = 20


@dataclass
class DeliveryTracker:
    """A thread-safe ``on_delivery`` callback with counters."""

    delivered: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    on_failure: Callable[[KafkaError, Message], Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, error: KafkaError | None, message: Message) -> None:
        """Librdkafka's delivery report: ``error`` is None when the broker acknowledged."""
        with self._lock:
            if error is None:
                self.delivered += 1
                return
            self.failed += 1
            if len(self.errors) < KEEP_ERRORS:
                self.errors.append(f"{message.topic()}: {error.str()}")
        log.error("delivery to %s failed: %s (key=%r)", message.topic(), error.str(), message.key())
        if self.on_failure is not None:
            self.on_failure(error, message)

    @property
    def settled(self) -> int:
        """How many records have a final answer, delivered or failed."""
        return self.delivered + self.failed


class _Polls(Protocol):
    def poll(self, timeout: float = ...) -> int: ...


def produce_when_room(
    producer: _Polls,
    produce: Callable[[], object],
    *,
    wait_s: float = 0.05,
    stopped: Callable[[], bool] | None = None,
) -> bool:
    """Call ``produce()``; while librdkafka's local queue is full, make room and retry.

    A full queue (``BufferError``) is back-pressure, not failure: serving delivery
    reports for ``wait_s`` frees room, and the record is never dropped. Returns
    False only when ``stopped()`` says to give up before the record went in.
    """
    while True:
        try:
            produce()
        except BufferError:
            if stopped is not None and stopped():
                return False
            producer.poll(wait_s)
        else:
            return True
