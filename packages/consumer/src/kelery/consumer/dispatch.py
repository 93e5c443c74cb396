"""Carry out decisions: publish Celery tasks, post replies, dead-letter bad records.

A dispatcher calls ``done()`` for a record only when its work is durably handed
on, because that is what lets the loop commit the record's offset:

- a task: when ``send_task`` returned without error (the broker accepted it; with
  publisher confirms where the transport has them);
- a reply or a DLQ copy: when Kafka's delivery report says it arrived.

A task publish that fails raises :class:`PublishError` (the loop retries it with
backoff); a reply or DLQ copy that Kafka finally refuses sets :attr:`fatal` (the
loop stops without committing past it, so a restart handles it again).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from celery import Celery
from confluent_kafka import KafkaError, Message, Producer

from kelery.common.delivery import produce_when_room
from kelery.common.dlq import dead_letter
from kelery.common.errors import KeleryError, SettingsError
from kelery.common.settings import KafkaSettings
from kelery.consumer.decide import DeadLetter, Decision, Ignore, Reply, SendTask
from kelery.consumer.metrics import ConsumerStats

log = logging.getLogger(__name__)

Done = Callable[[], object]  # its result, if any, is ignored

DLQ_STAGE = "consumer"
_CONFIRMING_SCHEMES = frozenset({"amqp", "amqps", "pyamqp"})
_KAFKA_TRANSPORT_SCHEMES = frozenset({"kafka", "kelery", "kelery+kafka"})  # kelery-tasks' SCHEMES


class PublishError(KeleryError):
    """A Celery task could not be handed to the broker (after kombu's own retries)."""


class Dispatcher(Protocol):
    """What the consume loop needs from whoever acts on decisions."""

    fatal: str | None

    def dispatch(self, decision: Decision, record: Message, done: Done) -> None:
        """Act on ``decision`` for ``record``; call ``done`` once it is durably handed on."""

    def poll(self) -> None:
        """Serve pending delivery reports without blocking."""

    def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` s for in-flight deliveries; return how many are left."""

    def close(self) -> None:
        """Release connections."""


def celery_broker_config(
    broker_url: str | None, transport_options: Mapping[str, Any], kafka: KafkaSettings
) -> dict[str, Any]:
    """``broker_url``, ``broker_transport(_options)`` for publishing, from settings.

    Which broker a URL means is decided by kelery-tasks'
    ``kelery.tasks.transport.celery_broker_config`` (empty, ``kafka://`` and
    ``kelery+kafka://``: Kelery's Kafka transport on this cluster, which needs the
    ``kafka-broker`` extra; anything else: used as given). kelery-tasks is imported
    only for those URLs, so the consumer runs on RabbitMQ or Redis without it.
    Publisher confirms are switched on wherever the transport has them, because a
    task counts as handed on (and its record may be committed) only once the
    broker accepted it.
    """
    options = dict(transport_options)
    if not _needs_kafka_transport(broker_url):
        if urlsplit(broker_url or "").scheme in _CONFIRMING_SCHEMES:
            options.setdefault("confirm_publish", True)
        return {"broker_url": broker_url, "broker_transport_options": options}
    transport = _kafka_transport()
    options.setdefault("confirm_publish", True)
    # Each confirmed publish waits for its own ack, so lingering to fill a batch only
    # adds that wait to every task (measured: ~150 tasks/s with librdkafka's 5 ms, over
    # 1,000/s without, on the dev broker).
    producer_config = dict(options.get("producer_config") or {})
    producer_config.setdefault("linger.ms", 0)
    options["producer_config"] = producer_config
    config: dict[str, Any] = transport.celery_broker_config(broker_url, kafka, **options)
    return config


def _needs_kafka_transport(broker_url: str | None) -> bool:
    """Empty, ``kafka://`` or ``kelery+kafka://``: Kelery's transport (kelery-tasks' schemes).

    The same rule as ``kelery.tasks.transport.uses_this_transport``, which cannot be
    imported to ask before knowing that kelery-tasks is needed.
    """
    return not broker_url or urlsplit(broker_url).scheme in _KAFKA_TRANSPORT_SCHEMES


def _kafka_transport() -> ModuleType:
    """Import kelery-tasks' Kafka transport, or say which setting or extra is missing."""
    try:
        return importlib.import_module("kelery.tasks.transport")
    except ImportError as exc:
        raise SettingsError(
            "invalid settings:\n  CELERY_BROKER_URL: unset, kafka:// or kelery+kafka:// needs "
            "Kelery's Kafka transport, which is not installed (pip install "
            f"'kelery-consumer[kafka-broker]'), or set a URL of another Celery broker ({exc})"
        ) from exc


def make_celery_app(config: Mapping[str, Any]) -> Celery:
    """A Celery app used only to publish tasks: no worker, no result backend needed."""
    app = Celery("kelery-consumer", set_as_current=False)
    app.conf.update(
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        accept_content=["json"],
        task_create_missing_queues=True,
        **config,
    )
    return app


class LiveDispatcher:
    """Publishes tasks with Celery and replies/DLQ copies with one Kafka producer."""

    def __init__(
        self, app: Celery, producer: Producer, speak_topic: str, stats: ConsumerStats
    ) -> None:
        self.fatal: str | None = None
        self._app = app
        self._producer = producer
        self._speak_topic = speak_topic
        self._stats = stats

    def dispatch(self, decision: Decision, record: Message, done: Done) -> None:
        """Act on one decision (see the module docstring for when ``done`` runs)."""
        if isinstance(decision, SendTask):
            self._send_task(decision)
            self._stats.tasks_sent += 1
            done()
        elif isinstance(decision, Reply):
            message = decision.message
            self._produce(
                lambda: self._producer.produce(
                    self._speak_topic,
                    key=message.channel_id.encode() if message.channel_id else None,
                    value=message.to_json_bytes(),
                    on_delivery=self._confirm(done, "replies"),
                )
            )
        elif isinstance(decision, DeadLetter):
            self._produce(
                lambda: dead_letter(
                    self._producer,
                    record,
                    decision.reason,
                    stage=DLQ_STAGE,
                    on_delivery=self._confirm(done, "dead_lettered"),
                )
            )
        else:
            self._stats.ignored += 1
            done()

    def _send_task(self, decision: SendTask) -> None:
        try:
            self._app.send_task(
                decision.task,
                args=list(decision.args),
                kwargs=decision.kwargs,
                queue=decision.queue,
            )
        except Exception as exc:
            raise PublishError(
                f"could not publish task {decision.task}: {type(exc).__name__}: {exc}"
            ) from exc

    def _produce(self, produce: Callable[[], object]) -> None:
        """Produce, waiting for room when librdkafka's local queue is full."""
        produce_when_room(self._producer, produce, wait_s=0.1)

    def _confirm(self, done: Done, counter: str) -> Callable[[KafkaError | None, Message], None]:
        def on_delivery(error: KafkaError | None, message: Message) -> None:
            if error is None:
                setattr(self._stats, counter, getattr(self._stats, counter) + 1)
                done()
                return
            reason = f"delivery to {message.topic()} failed: {error.str()}"
            log.error("%s; stopping so the record is handled again after restart", reason)
            self.fatal = self.fatal or reason

        return on_delivery

    def poll(self) -> None:
        """Serve delivery reports."""
        self._producer.poll(0)

    def flush(self, timeout: float) -> int:
        """Wait for in-flight replies and DLQ copies."""
        return self._producer.flush(timeout)

    def close(self) -> None:
        """Close the Celery app's broker connections."""
        self._app.close()


class DryRunDispatcher:
    """Prints each decision (``--dry-run``) and sends nothing; counts as if it had."""

    def __init__(self, stats: ConsumerStats, out: IO[str] | None) -> None:
        self.fatal: str | None = None
        self._stats = stats
        self._out = out

    def dispatch(self, decision: Decision, record: Message, done: Done) -> None:
        """Print the decision and count it."""
        if isinstance(decision, SendTask):
            self._stats.tasks_sent += 1
        elif isinstance(decision, Reply):
            self._stats.replies += 1
        elif isinstance(decision, DeadLetter):
            self._stats.dead_lettered += 1
        elif isinstance(decision, Ignore):
            self._stats.ignored += 1
        if self._out is not None:
            where = f"{record.topic()}[{record.partition()}]@{record.offset()}"
            print(f"{where} {decision.describe()}", file=self._out)
        done()

    def poll(self) -> None:
        """Nothing in flight."""

    def flush(self, timeout: float) -> int:
        """Nothing in flight."""
        return 0

    def close(self) -> None:
        """Nothing to close."""
