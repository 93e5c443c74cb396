"""One Kafka producer per worker process, for answers and counted messages.

librdkafka producers do not survive ``fork``: the prefork pool's children must
each make their own, after the fork. :class:`ProcessProducer` creates it on
first use and remembers the pid it was made in, so a forked child never reuses
its parent's handle. It is idempotent with ``acks=all`` (from
:func:`~kelery.common.kafka_config.client_config`), is polled after each
produce to serve delivery reports, and is flushed only when the process shuts
down (``worker_process_shutdown``/``worker_shutdown``), never per message.
A delivery that finally fails is logged with the record's uuid.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from kelery.common.kafka_config import client_config
from kelery.common.schemas import SpeakMessage
from kelery.common.settings import KafkaSettings

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 30.0


class DeliveryFailedError(RuntimeError):
    """A record the caller waited for was refused by the cluster."""


class ProcessProducer:
    """A lazily created, fork-aware confluent-kafka Producer."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._kafka = kafka
        self._lock = threading.Lock()
        self._producer: Producer | None = None
        self._pid: int | None = None

    @property
    def producer(self) -> Producer:
        """This process's producer, created on first use (after any fork)."""
        with self._lock:
            if self._producer is None or self._pid != os.getpid():
                self._producer = Producer(client_config(self._kafka, "producer"))
                self._pid = os.getpid()
            return self._producer

    def publish_speak(self, message: SpeakMessage, topic: str) -> None:
        """Queue ``message`` for ``topic`` (keyed by channel, so a channel keeps order)."""
        uuid, task_id = message.uuid, message.task_id

        def report(error: KafkaError | None, record: Message) -> None:
            if error is not None:
                log.error(
                    "answer %s (task %s) to %s was not delivered: %s",
                    uuid,
                    task_id,
                    record.topic(),
                    error.str(),
                )

        producer = self.producer
        producer.produce(
            topic,
            key=(message.channel_id or "").encode("utf-8"),
            value=message.to_json_bytes(),
            on_delivery=report,
        )
        producer.poll(0)

    def produce_and_wait(
        self, topic: str, *, key: bytes, value: bytes, timeout: float = FLUSH_TIMEOUT_S
    ) -> None:
        """Produce one record and return once the cluster acknowledged it.

        For records that must be durable before a task reports success. Only
        this record is waited for (the producer is polled, not flushed).
        """
        done = threading.Event()
        outcome: dict[str, Any] = {}

        def report(error: KafkaError | None, _record: Message) -> None:
            outcome["error"] = error
            done.set()

        producer = self.producer
        producer.produce(topic, key=key, value=value, on_delivery=report)
        deadline = time.monotonic() + timeout
        while not done.is_set() and time.monotonic() < deadline:
            producer.poll(0.05)
        if not done.is_set():
            raise DeliveryFailedError(f"no delivery report from {topic} within {timeout:.0f}s")
        error = outcome.get("error")
        if error is not None:
            raise DeliveryFailedError(f"{topic} refused the record: {error.str()}")

    def flush(self, timeout: float = FLUSH_TIMEOUT_S) -> None:
        """Deliver what is queued (at shutdown); log what could not be."""
        with self._lock:
            producer = self._producer if self._pid == os.getpid() else None
        if producer is None:
            return
        left = producer.flush(timeout)
        if left:
            log.error("%d answers were still undelivered after %.0fs at shutdown", left, timeout)
