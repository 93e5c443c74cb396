"""The kombu channel: publish to topics, deliver buffered records, ack per offset.

Publishing maps kombu's exchanges onto topics (see the package docstring):
the default exchange and local direct bindings go to the queue's topic; fanout
and topic exchanges, and direct publishes with no local binding, go to the
exchange's broadcast topic. Consuming hands Celery one record at a time from
the channel's :class:`~kelery.tasks.transport.group_reader.GroupReader` or from
the process's :class:`~kelery.tasks.transport.broadcast.BroadcastHub`.

Acknowledgement semantics:

- ``ack``: the record's offset is marked done; the reader commits per partition
  below the lowest unfinished record.
- ``reject(requeue=True)``: a copy is appended to the same topic (header
  ``kombu-redelivered: true``); the original is acked once the copy's delivery is
  confirmed.
- ``reject(requeue=False)``: the record goes to ``<topic>.dlq`` with kelery-common's
  DLQ headers; the original is acked once the DLQ copy is confirmed.
- unacked at close or crash: nothing is restored by hand; the offsets were never
  committed, so the group delivers them again (at-least-once).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from confluent_kafka import KafkaError
from confluent_kafka import Message as KafkaRecord
from kombu.transport import virtual

from kelery.common.dlq import dead_letter, dlq_topic_for, header_value, normalise_headers
from kelery.tasks.transport.acks import Position
from kelery.tasks.transport.errors import BrokerUnavailableError, PublishError
from kelery.tasks.transport.group_reader import GroupReader
from kelery.tasks.transport.options import check_topic_name
from kelery.tasks.transport.producer import (
    flush_all,
    produce,
    raise_failures,
    record_failure,
    wait_delivered,
)
from kelery.tasks.transport.records import (
    REDELIVERED,
    decode_record,
    encode_record,
    record_key,
)

if TYPE_CHECKING:
    from kelery.tasks.transport.transport import Transport

log = logging.getLogger(__name__)

DLQ_STAGE = "celery-worker"
_delivery_tags = itertools.count(1)


class KafkaMessage(virtual.Message):
    """A kombu message that remembers the Kafka record it came from."""

    def __init__(self, payload: dict[str, Any], channel: Any = None, **kwargs: Any) -> None:
        self.record: KafkaRecord | None = payload.pop("kelery_record", None)
        self.position: Position | None = payload.pop("kelery_position", None)
        self.source_queue: str | None = payload.pop("kelery_queue", None)
        super().__init__(payload, channel=channel, **kwargs)


class KafkaQoS(virtual.QoS):
    """Prefetch accounting plus per-offset acks (see the module docstring)."""

    restore_at_shutdown = False
    channel: Channel
    _quick_ack: Callable[[Any], None]
    _flush: Callable[[], None]

    def _unacked(self) -> OrderedDict[Any, Any]:
        delivered = self._delivered
        assert delivered is not None  # noqa: S101 - set in QoS.__init__
        return delivered

    def ack(self, delivery_tag: Any) -> None:
        """Mark the record done and drop it from the unacked set."""
        message = self._unacked().get(delivery_tag)
        super().ack(delivery_tag)
        if message is not None:
            self.channel.record_done(message)

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        """Requeue (publish again) or dead-letter, then forget the delivery."""
        message = self._unacked().get(delivery_tag)
        self._quick_ack(delivery_tag)
        if message is not None:
            self.channel.record_rejected(message, requeue=requeue)

    def restore_unacked(self) -> None:
        """Nothing to restore: uncommitted offsets are redelivered by the group."""
        self._flush()
        self._unacked().clear()


class Channel(virtual.Channel):
    """A kombu virtual channel on Kafka topics."""

    QoS = KafkaQoS
    Message = KafkaMessage
    supports_fanout = True
    do_restore = False
    body_encoding = None  # type: ignore[assignment]  # the body is the record value, as is
    from_transport_options = ()
    connection: Transport

    def __init__(self, connection: Transport, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        self._transport = connection
        self._reader: GroupReader | None = None
        self._reader_lock = threading.Lock()
        self._topic_queue: dict[str, str] = {}
        self._hub_cursor = 0

    # -- publishing -------------------------------------------------------------------
    def basic_publish(
        self, message: dict[str, Any], exchange: str, routing_key: str, **kwargs: Any
    ) -> None:
        """Route to queue topics or the exchange's broadcast topic (never silently drop)."""
        self.raise_publish_errors()
        transport = self._transport
        if not exchange:
            if transport.is_reply(routing_key):
                self._produce(
                    transport.broadcast_topic(""), message, exchange="", routing_key=routing_key
                )
            else:
                self._produce_queue(routing_key, message, exchange="", routing_key=routing_key)
            return
        kind = self.typeof(exchange).type
        if kind == "direct":
            queues = self._lookup(exchange, routing_key)
            durable = [queue for queue in queues if not transport.is_broadcast_queue(queue)]
            for queue in durable:
                self._produce_queue(queue, message, exchange=exchange, routing_key=routing_key)
            if len(durable) == len(queues) and durable:
                return
        self._produce(
            transport.broadcast_topic(exchange),
            message,
            exchange=exchange,
            routing_key=routing_key,
        )

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        """Publish ``message`` to ``queue`` (kombu's restore path)."""
        info = message.get("properties", {}).get("delivery_info") or {}
        self._produce_queue(
            queue,
            message,
            exchange=info.get("exchange") or "",
            routing_key=info.get("routing_key") or queue,
        )

    def _produce_queue(
        self, queue: str, message: dict[str, Any], *, exchange: str, routing_key: str
    ) -> None:
        if self._transport.is_broadcast_queue(queue):
            self._produce(
                self._transport.broadcast_topic(exchange),
                message,
                exchange=exchange,
                routing_key=routing_key,
            )
            return
        self._produce(
            self._transport.queue_topic(queue), message, exchange=exchange, routing_key=routing_key
        )

    def _produce(
        self, topic: str, message: dict[str, Any], *, exchange: str, routing_key: str
    ) -> None:
        value, headers = encode_record(message, exchange=exchange, routing_key=routing_key)
        key = record_key(message)
        options = self._transport.options
        if not options.confirm_publish:
            produce(
                self._transport.producer,
                topic,
                key=key,
                value=value,
                headers=headers,
                on_delivery=record_failure,
            )
            return
        producer = self._transport.confirming_producer
        done = threading.Event()
        failure: list[str] = []

        def confirmed(error: KafkaError | None, record: KafkaRecord) -> None:
            if error is not None:
                failure.append(f"{topic}: {error.str()}")
            done.set()

        produce(producer, topic, key=key, value=value, headers=headers, on_delivery=confirmed)
        if not wait_delivered(producer, done, options.confirm_timeout):
            raise PublishError(
                f"no delivery report from Kafka for {topic} within {options.confirm_timeout}s"
            )
        if failure:
            raise PublishError(f"Kafka refused the message: {failure[0]}")

    def raise_publish_errors(self) -> None:
        """Raise PublishError if an earlier publish of this process was finally refused."""
        raise_failures()

    # -- queues -----------------------------------------------------------------------
    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        """A durable queue is a topic; a transient one lives in this process.

        A transient queue is fed replies (the default exchange) from its
        declaration on, before any task that answers to it is sent, until it is
        bound to a named exchange.
        """
        if kwargs.get("auto_delete") or kwargs.get("exclusive"):
            self._transport.mark_transient(queue)
            self._transport.bind_broadcast(queue, "")
            return
        self._transport.queue_topic(queue)

    def _queue_bind(self, exchange: str, routing_key: str, pattern: Any, queue: str) -> None:
        transport = self._transport
        kind = self.typeof(exchange).type
        if kind in {"fanout", "topic"} or transport.is_transient(queue):
            transport.bind_broadcast(queue, exchange)
            if exchange:
                transport.unbind_replies(queue)

    def _has_queue(self, queue: str, **kwargs: Any) -> bool:
        return self._transport.is_broadcast_queue(queue) or self._transport.topic_exists(
            self._transport.queue_topic_name(queue)
        )

    def _size(self, queue: str) -> int:
        if self._transport.is_broadcast_queue(queue):
            return self._transport.hub.size(queue)
        return 0

    def _purge(self, queue: str) -> int:
        """Drop what ``queue`` holds now (``celery purge``); return how many tasks that was."""
        transport = self._transport
        if transport.is_broadcast_queue(queue):
            return transport.hub.clear(queue) if transport.has_hub else 0
        return transport.purge_queue(queue)

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        self._transport.forget_queue(queue)

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        """``basic_get``: one record of ``queue`` if it has one, else ``queue.Empty``.

        Kafka cannot say "empty" without asking: the first get subscribes the
        queue and waits for its partitions, then compares positions with end
        offsets (after this process's own publishes are confirmed, so a get
        right after a put sees it) and, if a record exists, waits for it.
        """
        from queue import Empty  # noqa: PLC0415 - kombu's contract exception

        transport = self._transport
        if transport.is_broadcast_queue(queue):
            record = transport.hub.pop(queue)
            if record is None:
                raise Empty
            return self._payload(record, queue, None)
        reader = self._ensure_reader()
        topic = transport.queue_topic(queue)
        if topic not in self._topic_queue:
            self._topic_queue[topic] = queue
            self._update_subscription()
        item = reader.pop_for(topic)
        if item is None:
            wait = transport.options.get_timeout
            flush_all(wait)
            if not reader.has_unread(topic, wait):
                # fetched meanwhile? (the thread answers after buffering what it polled)
                item = reader.pop_for(topic)
                if item is None:
                    raise Empty
                return self._payload(item[0], queue, item[1])
            deadline = time.monotonic() + wait
            while (item := reader.pop_for(topic)) is None:
                if time.monotonic() > deadline:
                    raise Empty
                time.sleep(0.005)
        return self._payload(item[0], queue, item[1])

    # -- consuming --------------------------------------------------------------------
    def basic_consume(self, queue: str, no_ack: bool, *args: Any, **kwargs: Any) -> Any:
        """Start delivering ``queue``; group queues join this channel's subscription."""
        result = super().basic_consume(queue, no_ack, *args, **kwargs)
        if not self._transport.is_broadcast_queue(queue):
            self._topic_queue[self._transport.queue_topic(queue)] = queue
            self._ensure_reader()
            self._update_subscription()
        return result

    def basic_cancel(self, consumer_tag: str) -> Any:
        """Stop delivering a queue; it leaves the subscription."""
        queue = self._tag_to_queue.get(consumer_tag)
        result = super().basic_cancel(consumer_tag)
        if queue is not None and queue not in self._active_queues:
            for topic, name in list(self._topic_queue.items()):
                if name == queue:
                    del self._topic_queue[topic]
            self._update_subscription()
        return result

    def _ensure_reader(self) -> GroupReader:
        with self._reader_lock:
            if self._reader is None:
                self._reader = self._transport.new_group_reader()
            return self._reader

    def _update_subscription(self) -> None:
        if self._reader is not None:
            self._reader.set_topics(list(self._topic_queue))

    def deliver_one(self) -> bool:
        """Hand one waiting record to its consumer callback; False if none could be."""
        if not self._consumers or not self.qos.can_consume():
            return False
        transport = self._transport
        transport.check_threads()
        if self._reader is not None and self._reader.failure is not None:
            # a connection error: Celery reconnects, which builds a new consumer
            raise BrokerUnavailableError(f"Kafka consumer thread failed: {self._reader.failure}")
        if transport.has_hub:
            active = [queue for queue in self._active_queues if transport.is_broadcast_queue(queue)]
            for _ in range(len(active)):
                self._hub_cursor = (self._hub_cursor + 1) % len(active)
                queue = active[self._hub_cursor]
                record = transport.hub.pop(queue)
                if record is not None:
                    transport.deliver(self._payload(record, queue, None), queue)
                    return True
        reader = self._reader
        while reader is not None:
            item = reader.pop()
            if item is None:
                return False
            record, position = item
            target = self._topic_queue.get(record.topic() or "")
            if target is None:
                continue  # unsubscribed meanwhile; never acked, so redelivered to the group
            try:
                payload = self._payload(record, target, position)
            except ValueError as exc:
                self._dead_letter(record, position, str(exc))
                continue
            transport.deliver(payload, target)
            return True
        return False

    def _payload(
        self, record: KafkaRecord, queue: str, position: Position | None
    ) -> dict[str, Any]:
        payload = decode_record(
            record.value(),
            cast("list[tuple[str, bytes | None]] | None", record.headers()),  # as librdkafka gives
            queue=queue,
            delivery_tag=next(_delivery_tags),
        )
        payload["kelery_record"] = record
        payload["kelery_position"] = position
        payload["kelery_queue"] = queue
        return payload

    # -- acks -------------------------------------------------------------------------
    def record_done(self, message: KafkaMessage) -> None:
        """An ack: the record's offset may be committed once all before it are done."""
        if message.position is not None and self._reader is not None:
            self._reader.ack(message.position)
        self._transport.wake()

    def record_rejected(self, message: KafkaMessage, *, requeue: bool) -> None:
        """A reject: publish again (requeue) or dead-letter, ack the original when confirmed."""
        record, position = message.record, message.position
        if record is None:
            return
        if position is None:  # a broadcast record: in-memory only
            if requeue and message.source_queue:
                self._transport.hub.push_front(message.source_queue, record)
            else:
                log.warning("rejected broadcast message from %s dropped", record.topic())
            return
        if requeue:
            headers = [(k, v) for k, v in normalise_headers(record.headers()) if k != REDELIVERED]
            headers.append((REDELIVERED, b"true"))
            done = threading.Event()
            produce(
                self._transport.confirming_producer,
                record.topic() or "",
                key=record.key(),
                value=record.value(),
                headers=headers,
                on_delivery=self._ack_when_delivered(position, "requeue", done),
            )
            wait_delivered(
                self._transport.confirming_producer, done, self._transport.options.confirm_timeout
            )
            return
        task = header_value(record.headers(), "task") or "?"
        task_id = header_value(record.headers(), "id") or "?"
        reason = (
            f"rejected by the Celery worker without requeue (task={task}, id={task_id}): "
            "unknown task, Reject(requeue=False) or a message it could not process"
        )
        self._dead_letter(record, position, reason)

    def _dead_letter(self, record: KafkaRecord, position: Position | None, reason: str) -> None:
        topic = record.topic() or ""
        log.error(
            "dead-lettering %s[%s]@%s: %s", topic, record.partition(), record.offset(), reason
        )
        done = threading.Event()
        dead_letter(
            self._transport.confirming_producer,
            record,
            reason,
            stage=DLQ_STAGE,
            dlq_topic=self._transport.ensure_topic(dlq_topic_for(topic), partitions=1),
            on_delivery=self._ack_when_delivered(position, "dead-letter", done),
        )
        wait_delivered(
            self._transport.confirming_producer, done, self._transport.options.confirm_timeout
        )

    def _ack_when_delivered(
        self, position: Position | None, what: str, done: threading.Event
    ) -> Any:
        def on_delivery(error: KafkaError | None, record: KafkaRecord) -> None:
            done.set()
            if error is not None:
                log.error(
                    "%s copy to %s failed (%s); the original stays unacked and will be redelivered",
                    what,
                    record.topic(),
                    error.str(),
                )
                return
            if position is not None and self._reader is not None:
                self._reader.ack(position)

        return on_delivery

    # -- lifecycle --------------------------------------------------------------------
    def close(self) -> None:
        """Cancel consumers, commit what is acked, leave the group."""
        was_closed = self.closed
        transport = self._transport
        super().close()
        if was_closed:
            return
        reader, self._reader = self._reader, None
        if reader is not None:
            flush_all(transport.options.close_timeout)
            reader.close(transport.options.close_timeout)

    def validate_queue_name(self, queue: str) -> str:
        """Raise ValueError unless ``queue`` can be a topic name."""
        return check_topic_name(queue)
