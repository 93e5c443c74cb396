"""Broadcast exchanges on Kafka: one topic per exchange, read by every process.

Fanout and topic exchanges (Celery's pidbox and events), and direct publishes
whose binding lives in another process (remote-control replies), cannot use a
consumer group: every bound queue, in every process, must see each message. So
such a publish goes to the exchange's broadcast topic with its routing key in a
header, and each process runs one :class:`BroadcastHub`: a consumer thread
without a group that reads the broadcast topics its queues are bound to and
fans each record out to the matching local queues, in memory.

A queue bound to a broadcast topic receives what was published from the moment
it was bound: the hub notes the topic's end offsets at bind time (a synchronous
watermark query, so a reply published right after the request is never
missed) and drops older records for that queue. Broadcast queues are therefore
transient, like RabbitMQ's auto-delete queues that Celery uses for them.

A partition no local queue is fed from any more is unassigned, so a process
reads only the broadcast topics it still needs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka.admin import AdminClient

from kelery.common.dlq import header_value
from kelery.common.topics import LATEST, partition_offsets
from kelery.tasks.transport.records import EXCHANGE, ROUTING_KEY

log = logging.getLogger(__name__)


def _header(record: Message, name: str) -> str:
    return header_value(record.headers(), name) or ""


class BroadcastHub:
    """A group-less consumer thread fanning broadcast records out to local queues.

    Only the hub's own thread touches its consumer (a confluent-kafka consumer
    blocks other threads' calls while it polls); offsets are looked up with the
    connection's admin client and assignments are handed to the thread.
    """

    def __init__(
        self,
        config: dict[str, Any],
        *,
        admin: AdminClient,
        wake: threading.Event,
        match: Callable[[str, str], set[str]],
        poll_timeout: float,
        request_timeout: float,
    ) -> None:
        self._consumer = Consumer(config)
        self._admin = admin
        self._wake = wake
        self._match = match
        self._poll_timeout = poll_timeout
        self._request_timeout = request_timeout
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Message]] = {}
        self._starts: dict[str, dict[tuple[str, int], int]] = {}
        self._assigned: set[tuple[str, int]] = set()
        # (assign?, partition) in the order decided; only the hub's thread applies them.
        self._changes: list[tuple[bool, TopicPartition]] = []
        self._stop = threading.Event()
        self.failure: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name="kelery-kafka-broadcast", daemon=True
        )
        self._thread.start()

    def bind(self, queue: str, topic: str) -> None:
        """Feed ``queue`` from ``topic`` starting now (its current end offsets)."""
        starts = self._end_offsets(topic)
        with self._lock:
            self._queues.setdefault(queue, deque())
            self._starts.setdefault(queue, {}).update(starts)
            for key, offset in starts.items():
                if key not in self._assigned:
                    self._assigned.add(key)
                    self._changes.append((True, TopicPartition(key[0], key[1], offset)))

    def unbind(self, queue: str, topic: str) -> None:
        """Stop feeding ``queue`` from ``topic`` (what it already holds stays)."""
        with self._lock:
            starts = self._starts.get(queue, {})
            for key in [key for key in starts if key[0] == topic]:
                del starts[key]
            self._release_unneeded()

    def forget(self, queue: str) -> None:
        """Stop feeding ``queue`` and drop what it holds."""
        with self._lock:
            self._queues.pop(queue, None)
            self._starts.pop(queue, None)
            self._release_unneeded()

    def _release_unneeded(self) -> None:
        """Unassign partitions no queue is fed from (caller holds the lock)."""
        needed = {key for starts in self._starts.values() for key in starts}
        for key in sorted(self._assigned - needed):
            self._assigned.discard(key)
            self._changes.append((False, TopicPartition(key[0], key[1])))

    def pop(self, queue: str) -> Message | None:
        """The next record for ``queue``, or None."""
        items = self._queues.get(queue)
        if not items:
            return None
        try:
            return items.popleft()
        except IndexError:
            return None

    def push_front(self, queue: str, record: Message) -> None:
        """Put a record back (a requeued broadcast message)."""
        with self._lock:
            items = self._queues.get(queue)
            if items is not None:
                items.appendleft(record)
        self._wake.set()

    def clear(self, queue: str) -> int:
        """Drop the records waiting in ``queue``; return how many."""
        with self._lock:
            items = self._queues.get(queue)
            if not items:
                return 0
            count = len(items)
            items.clear()
            return count

    def size(self, queue: str) -> int:
        """Records waiting in ``queue``."""
        return len(self._queues.get(queue) or ())

    def has(self, queue: str) -> bool:
        """True if ``queue`` is fed by this hub."""
        return queue in self._queues

    def close(self, timeout: float) -> None:
        """Stop the thread and close the consumer."""
        self._stop.set()
        self._thread.join(timeout)

    def _end_offsets(self, topic: str) -> dict[tuple[str, int], int]:
        """The current end offset of each partition of ``topic`` (retried while it appears)."""
        deadline = time.monotonic() + self._request_timeout
        while True:
            try:
                metadata = self._admin.list_topics(topic, timeout=self._request_timeout)
                info = metadata.topics.get(topic)
                if info is not None and info.error is None and info.partitions:
                    ends = partition_offsets(
                        self._admin, topic, info.partitions, LATEST, timeout=self._request_timeout
                    )
                    return {(topic, partition): offset for partition, offset in ends.items()}
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise KafkaException(f"broadcast topic {topic!r} is not available")
            time.sleep(0.05)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with self._lock:
                    changes, self._changes = self._changes, []
                for assign, partition in changes:
                    if assign:
                        self._consumer.incremental_assign([partition])
                    else:
                        self._consumer.incremental_unassign([partition])
                if not self._assigned:
                    self._stop.wait(self._poll_timeout)
                    continue
                record = self._consumer.poll(self._poll_timeout)
                if record is None:
                    continue
                error = record.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        log.warning("broadcast consumer error: %s", error.str())
                    continue
                self._dispatch(record)
        except Exception as exc:
            log.exception("broadcast consumer thread failed")
            self.failure = exc
        finally:
            self._consumer.close()

    def _dispatch(self, record: Message) -> None:
        key = (record.topic() or "", record.partition() or 0)
        offset = record.offset() or 0
        targets = self._match(_header(record, EXCHANGE), _header(record, ROUTING_KEY))
        delivered = False
        with self._lock:
            for queue in targets:
                start = self._starts.get(queue, {}).get(key)
                if start is not None and offset >= start and queue in self._queues:
                    self._queues[queue].append(record)
                    delivered = True
        if delivered:
            self._wake.set()
