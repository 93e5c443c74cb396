"""One Kafka producer per worker process, for answers and counted messages.

librdkafka producers do not survive ``fork``: the prefork pool's children must
each make their own, after the fork. :class:`ProcessProducer` creates it on
first use and remembers the pid it was made in, so a forked child never reuses
its parent's handle. It is idempotent with ``acks=all`` (from
:func:`~kelery.common.kafka_config.client_config`) and does not linger
(:func:`~kelery.common.kafka_config.awaited_producer`): every record is waited
for, so a 5 ms linger would add 5 ms to every task.

Every record it writes is waited for (:meth:`ProcessProducer.produce_and_wait`):
tasks are acked late, so a task may return only once its answer or count is
durably in Kafka; otherwise a refused answer would be acked away and lost. The
wait serves delivery reports with the transport's
:func:`~kelery.tasks.transport.producer.wait_delivered`, the one poll loop for
"this record, confirmed". A refusal raises :class:`DeliveryFailedError`.
"""

from __future__ import annotations

import logging
import os
import threading

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from kelery.common.kafka_config import awaited_producer, client_config
from kelery.common.schemas import SpeakMessage
from kelery.common.settings import KafkaSettings
from kelery.tasks.transport.producer import produce, wait_delivered

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 30.0


class DeliveryFailedError(RuntimeError):
    """A record the caller waited for was refused by the cluster, or not confirmed in time.

    ``retriable`` is False when sending the same record again cannot succeed (the
    broker refused it for good, e.g. too large for the topic), so a caller can
    dead-letter instead of retrying forever.
    """

    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


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
                self._producer = Producer(
                    client_config(self._kafka, "producer", **awaited_producer(self._kafka))
                )
                self._pid = os.getpid()
            return self._producer

    def publish_speak(
        self, message: SpeakMessage, topic: str, *, timeout: float = FLUSH_TIMEOUT_S
    ) -> None:
        """Publish ``message`` to ``topic`` and return once Kafka confirmed it.

        Keyed by channel, so a channel keeps its order. Raises DeliveryFailedError
        (naming the answer's uuid and task) when it is refused or unconfirmed.
        """
        try:
            self.produce_and_wait(
                topic,
                key=(message.channel_id or "").encode("utf-8"),
                value=message.to_json_bytes(),
                timeout=timeout,
            )
        except DeliveryFailedError as exc:
            raise DeliveryFailedError(
                f"answer {message.uuid} (task {message.task_id}): {exc}", retriable=exc.retriable
            ) from exc

    def produce_and_wait(
        self, topic: str, *, key: bytes, value: bytes, timeout: float = FLUSH_TIMEOUT_S
    ) -> None:
        """Produce one record and return once the cluster acknowledged it.

        For records that must be durable before a task reports success. Only
        this record is waited for (the producer is polled, not flushed).
        """
        done = threading.Event()
        errors: list[KafkaError] = []

        def report(error: KafkaError | None, _record: Message) -> None:
            if error is not None:
                errors.append(error)
            done.set()

        producer = self.producer
        try:
            produce(producer, topic, key=key, value=value, on_delivery=report)
        except KafkaException as exc:  # refused locally (e.g. larger than message.max.bytes)
            raise DeliveryFailedError(
                f"{topic} refused the record: {exc}", retriable=False
            ) from exc
        if not wait_delivered(producer, done, timeout):
            raise DeliveryFailedError(
                f"no delivery report from {topic} within {timeout:.0f}s", retriable=True
            )
        if errors:
            error = errors[0]
            raise DeliveryFailedError(
                f"{topic} refused the record: {error.str()}", retriable=_retriable(error)
            )

    def flush(self, timeout: float = FLUSH_TIMEOUT_S) -> None:
        """Deliver what is queued (at shutdown); log what could not be."""
        with self._lock:
            producer = self._producer if self._pid == os.getpid() else None
        if producer is None:
            return
        left = producer.flush(timeout)
        if left:
            log.error("%d answers were still undelivered after %.0fs at shutdown", left, timeout)


def _retriable(error: KafkaError) -> bool:
    """Whether the same record may be accepted later (not: too large, not allowed)."""
    return error.code() not in _PERMANENT


_PERMANENT = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.INVALID_RECORD,
    }
)
