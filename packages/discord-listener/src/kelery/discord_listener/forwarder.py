"""Hand ChatMessages to Kafka without ever blocking the bot's event loop.

``produce`` only enqueues in librdkafka (idempotent, ``acks=all``, from
``client_config``; no linger, because someone is waiting on every message, see
``awaited_producer``); delivery reports are served by :meth:`Forwarder.service`,
which the bot calls every few milliseconds with ``poll(0)``. Nothing here waits
on the network except :meth:`Forwarder.close` at shutdown.

When Kafka is unreachable, records wait in librdkafka's queue; when that is full
(``BufferError``), in a bounded local overflow, fed back in order as room frees
up. A record whose delivery fails with a retriable error (a timeout while the
cluster was away) is queued again, up to ``attempts`` times, at the back of the
overflow: behind records submitted since, so it may land after newer messages of
its channel. A record that
cannot be delivered (overflow full, attempts used up, fatal error, shutdown
timeout) is logged with its uuid and counted in :attr:`ForwarderStats.undeliverable`:
never dropped silently.

Records are keyed by channel id, so one channel's messages stay in one partition.
Their order there is the order of submission as long as each is delivered on its
first attempt: idempotence keeps librdkafka's own retries from reordering or
duplicating them. Only a record produced again after a failed delivery report
(above) can come out of order; holding a whole channel behind it would stall the
channel for a full delivery timeout, which is worse for a chat than a late line.

librdkafka's own log lines go through Python logging (``kelery.librdkafka``, set by
``client_config``), so they get the secret redaction and the JSON format of every
other line instead of raw stderr.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from kelery.common.kafka_config import awaited_producer, client_config
from kelery.common.schemas import ChatMessage
from kelery.common.settings import KafkaSettings

log = logging.getLogger(__name__)

UUID_HEADER = "kelery-uuid"


def producer_config(kafka: KafkaSettings) -> dict[str, Any]:
    """The forwarder's librdkafka config: the shared one, sending each message at once."""
    return client_config(kafka, "producer", **awaited_producer(kafka))


@dataclass
class ForwarderStats:
    """Counters a test, a log line or a health check reads."""

    submitted: int = 0
    delivered: int = 0
    retried: int = 0
    undeliverable: int = 0
    undeliverable_uuids: list[str] = field(default_factory=list)


@dataclass
class _Pending:
    chat: ChatMessage
    attempts: int = 0


class Forwarder:
    """Produce ChatMessages to ``topic``; call :meth:`service` often and :meth:`close` once."""

    KEEP_UUIDS = 1000

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        *,
        overflow_limit: int = 10_000,
        attempts: int = 3,
        producer_factory: Callable[[dict[str, Any]], Producer] = Producer,
    ) -> None:
        self.topic = topic
        self.overflow_limit = overflow_limit
        self.attempts = attempts
        self.stats = ForwarderStats()
        self._overflow: deque[_Pending] = deque()
        self._in_flight: dict[str, _Pending] = {}
        self._producer = producer_factory(producer_config(kafka))

    @property
    def waiting(self) -> int:
        """Records not yet acknowledged: in librdkafka or in the local overflow."""
        return len(self._in_flight) + len(self._overflow)

    def submit(self, chat: ChatMessage) -> None:
        """Queue ``chat`` for Kafka; never blocks."""
        self.stats.submitted += 1
        pending = _Pending(chat)
        if self._overflow:
            self._hold(pending)  # keep order behind what already waits
            return
        self._produce_or_hold(pending)

    def service(self) -> None:
        """Serve delivery reports and move held records into librdkafka; never blocks."""
        self._producer.poll(0)
        while self._overflow:
            pending = self._overflow.popleft()
            if not self._produce(pending):
                self._overflow.appendleft(pending)
                break

    def close(self, timeout: float) -> ForwarderStats:
        """Deliver what waits, for up to ``timeout`` seconds; count and log what could not be."""
        deadline = time.monotonic() + timeout
        why = f"not delivered within the {timeout:g}s shutdown flush"
        try:
            while self.waiting and time.monotonic() < deadline:
                self.service()
                self._producer.flush(min(0.2, max(0.0, deadline - time.monotonic())))
            self._producer.poll(0)
        except Exception as exc:
            # Whatever broke serving (the reason we may be shutting down) must not
            # make the records still waiting vanish uncounted.
            log.exception("flushing to %s failed", self.topic)
            why = f"the shutdown flush failed: {exc!r}"
        for pending in [*self._in_flight.values(), *self._overflow]:
            self._give_up(pending, why)
        self._in_flight.clear()
        self._overflow.clear()
        return self.stats

    # -- internals ----------------------------------------------------------------------

    def _produce_or_hold(self, pending: _Pending) -> None:
        if not self._produce(pending):
            self._hold(pending)

    def _produce(self, pending: _Pending) -> bool:
        """Try to enqueue in librdkafka; False when its queue is full."""
        chat = pending.chat
        pending.attempts += 1
        try:
            self._producer.produce(
                self.topic,
                value=chat.to_json_bytes(),
                key=(chat.channel_id or "").encode(),
                headers=[(UUID_HEADER, chat.uuid.encode())],
                on_delivery=lambda err, msg: self._delivered(pending, err, msg),
            )
        except BufferError:
            pending.attempts -= 1
            return False
        self._in_flight[chat.uuid] = pending
        return True

    def _hold(self, pending: _Pending) -> None:
        if len(self._overflow) >= self.overflow_limit:
            self._give_up(pending, f"Kafka queue and local overflow ({self.overflow_limit}) full")
            return
        self._overflow.append(pending)

    def _delivered(self, pending: _Pending, error: KafkaError | None, _msg: Message) -> None:
        self._in_flight.pop(pending.chat.uuid, None)
        if error is None:
            self.stats.delivered += 1
            return
        if (error.retriable() or error.code() == KafkaError._MSG_TIMED_OUT) and (
            pending.attempts < self.attempts
        ):
            self.stats.retried += 1
            log.warning(
                "message %s not delivered (%s); retrying (attempt %d of %d)",
                pending.chat.uuid,
                error.str(),
                pending.attempts + 1,
                self.attempts,
            )
            self._hold(pending)
            return
        self._give_up(pending, error.str())

    def _give_up(self, pending: _Pending, why: str) -> None:
        self.stats.undeliverable += 1
        if len(self.stats.undeliverable_uuids) < self.KEEP_UUIDS:
            self.stats.undeliverable_uuids.append(pending.chat.uuid)
        log.error(
            "message %s (channel %s, discord message %s) could not be delivered to %s: %s",
            pending.chat.uuid,
            pending.chat.channel_id,
            pending.chat.message_id,
            self.topic,
            why,
        )
