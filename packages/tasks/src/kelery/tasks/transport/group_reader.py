"""The consumer thread of one channel: a group member that reads every queue topic.

One Kafka consumer per channel, subscribed to the topics of all queues the
channel consumes, in the consumer group all workers share, so Kafka spreads the
partitions over the workers. It runs in its own thread so that

- the worker wakes on the first record (a short blocking ``poll`` here, a
  ``threading.Event`` to the worker's ``drain_events``), with no idle sleep;
- the consumer stays in its group while a solo-pool worker runs a long task
  (``max.poll.interval.ms`` is honoured by this thread, not by Celery's loop);
- every Kafka call on the consumer (poll, commit, pause, rebalance callbacks)
  happens on one thread.

Records are buffered ahead of Celery up to ``max_buffered``; above that the
thread stops fetching, and if Celery stays stalled it pauses its partitions
and keeps polling (so the group still sees it alive), often enough to resume
as soon as Celery takes a record. librdkafka keeps a pause across a rebalance,
so partitions are resumed as they are revoked, and the ones a cooperative
rebalance keeps are resumed after it; flow control then starts afresh.

Offsets are committed per partition from the :class:`AckTracker`: only below
the lowest record not yet acked, every ``commit_interval``, on revoke and on
close. Asynchronous commits are checked in the consumer's ``on_commit``
callback: a partition Kafka refused is un-marked, so the next turn commits it
again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from kelery.common.batches import poll_batch
from kelery.common.resume import resume_fetching, resume_leaving
from kelery.tasks.transport.acks import AckTracker, Position, TopicPartitionKey

log = logging.getLogger(__name__)

Buffered = tuple[Message, Position]
PAUSE_AFTER_S = 1.0
FULL_WAIT_S = 0.005
MAX_BATCH = 500


@dataclass
class _UnreadRequest:
    """A question for the consumer thread: has ``topic`` records not fetched yet?"""

    topic: str
    deadline: float
    done: threading.Event = field(default_factory=threading.Event)
    unread: bool = False


def _offsets(offsets: dict[TopicPartitionKey, int]) -> list[TopicPartition]:
    return [
        TopicPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()
    ]


class GroupReader:
    """A consumer thread feeding a bounded buffer; see the module docstring."""

    def __init__(
        self,
        config: dict[str, Any],
        *,
        wake: threading.Event,
        poll_timeout: float,
        commit_interval: float,
        max_buffered: int,
        on_idle: Callable[[], None] | None = None,
        name: str = "kelery-kafka-reader",
    ) -> None:
        self.tracker = AckTracker()
        self._config = config
        self._wake = wake
        self._poll_timeout = poll_timeout
        self._commit_interval = commit_interval
        self._max_buffered = max_buffered
        self._on_idle = on_idle
        self._buffer: deque[Buffered] = deque()
        self._buffer_lock = threading.Lock()
        self._topics: tuple[str, ...] = ()
        self._subscribed: tuple[str, ...] | None = None
        self._stop = threading.Event()
        self._paused = False
        self._assignment_changed = False
        self._full_since: float | None = None
        self._last_commit = 0.0
        self._error: BaseException | None = None
        self._requests: list[_UnreadRequest] = []
        self._requests_lock = threading.Lock()
        self._consumer = Consumer({**config, "on_commit": self._on_commit})
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- main-thread API ------------------------------------------------------------
    def set_topics(self, topics: Sequence[str]) -> None:
        """Subscribe to exactly ``topics`` (applied by the thread on its next turn)."""
        self._topics = tuple(sorted(set(topics)))

    def pop(self) -> Buffered | None:
        """The next buffered record and its position, or None."""
        with self._buffer_lock:
            return self._buffer.popleft() if self._buffer else None

    def pop_for(self, topic: str) -> Buffered | None:
        """The next buffered record of ``topic`` (for ``basic_get``), or None."""
        with self._buffer_lock:
            for item in self._buffer:
                if item[0].topic() == topic:
                    self._buffer.remove(item)
                    return item
        return None

    def has_unread(self, topic: str, timeout: float) -> bool:
        """True if ``topic`` holds records this consumer has not fetched yet.

        Subscribes nothing by itself (the caller has); waits for the topic's
        partitions to be assigned, then compares each position with the end
        offset. Answered by the consumer thread, which alone touches the consumer.
        """
        request = _UnreadRequest(topic, time.monotonic() + timeout)
        with self._requests_lock:
            self._requests.append(request)
        if not request.done.wait(timeout + 1.0):
            return False
        return request.unread

    @property
    def failure(self) -> BaseException | None:
        """Why the consumer thread died, if it did (the channel then raises)."""
        return self._error

    def ack(self, position: Position) -> None:
        """Mark a record done; it is committed on the thread's next turn."""
        self.tracker.acked(position)

    def close(self, timeout: float) -> None:
        """Stop the thread: final commit, leave the group, join."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("Kafka consumer thread did not stop within %.1fs", timeout)

    # -- the thread -----------------------------------------------------------------
    def _run(self) -> None:
        consumer = self._consumer
        try:
            while not self._stop.is_set():
                self._apply_subscription()
                if not self._subscribed:
                    self._stop.wait(self._poll_timeout)
                elif self._may_fetch():
                    self._fetch()
                else:
                    self._stop.wait(FULL_WAIT_S)
                if self._requests:
                    self._answer_requests()
                if self._on_idle is not None:
                    self._on_idle()
                self._commit(asynchronous=True)
        except BaseException as exc:
            log.exception("Kafka consumer thread failed")
            self._error = exc
        finally:
            try:
                self._commit(asynchronous=False, force=True)
            except KafkaException as exc:
                log.warning("final commit failed: %s", exc)
            consumer.close()  # revokes: on_revoke commits what is acked

    def _apply_subscription(self) -> None:
        topics = self._topics
        if topics == self._subscribed:
            return
        if topics:
            self._consumer.subscribe(
                list(topics),
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
        else:
            self._consumer.unsubscribe()
        self._subscribed = topics

    def _may_fetch(self) -> bool:
        """Flow control: fetch while the buffer has room; pause when Celery stalls.

        A full buffer first just stops this thread fetching (librdkafka keeps its own
        bounded prefetch, so resuming is instant). Only if it stays full for
        ``PAUSE_AFTER_S`` are the partitions paused, so that polling (which keeps
        the consumer in its group and serves rebalances) can go on without
        fetching more.
        """
        if self._assignment_changed:
            # Partitions leaving are resumed in the revoke callback; those a cooperative
            # rebalance kept are still paused, so resume them. Flow control starts afresh.
            # Not otherwise: the wake-up would be a request sent for nothing.
            self._assignment_changed = False
            assignment = self._consumer.assignment()
            if self._paused and assignment:
                resume_fetching(self._consumer, assignment)
            self._paused = False
            self._full_since = None
        if len(self._buffer) < self._max_buffered:
            if self._paused:
                resume_fetching(self._consumer, self._consumer.assignment())
                self._paused = False
            self._full_since = None
            return True
        now = time.monotonic()
        if self._full_since is None:
            self._full_since = now
        if not self._paused and now - self._full_since > PAUSE_AFTER_S:
            self._consumer.pause(self._consumer.assignment())
            self._paused = True
        return self._paused

    def _fetch(self) -> None:
        consumer = self._consumer
        # Paused, the poll only serves callbacks: kept short so the resume comes as
        # soon as Celery takes a record (a 100 ms poll let a fast worker drain its
        # buffer to a few dozen records before it).
        if self._paused:
            batch = poll_batch(consumer, 1, FULL_WAIT_S)
        else:
            room = self._max_buffered - len(self._buffer)
            batch = poll_batch(consumer, max(1, min(room, MAX_BATCH)), self._poll_timeout)
        accepted = []
        for record in batch:
            error = record.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("Kafka consumer error: %s", error.str())
                    if error.fatal():
                        raise KafkaException(error)
                continue
            position = self.tracker.delivered(
                record.topic() or "", record.partition() or 0, record.offset() or 0
            )
            if position is not None:
                accepted.append((record, position))
        if accepted:
            with self._buffer_lock:
                self._buffer.extend(accepted)
            self._wake.set()

    def _answer_requests(self) -> None:
        with self._requests_lock:
            requests, self._requests = self._requests, []
        keep = []
        assignment = self._consumer.assignment()
        for request in requests:
            partitions = [tp for tp in assignment if tp.topic == request.topic]
            if not partitions:
                if time.monotonic() < request.deadline:
                    keep.append(request)
                else:
                    request.done.set()
                continue
            request.unread = any(self._unread(tp) for tp in partitions)
            request.done.set()
        with self._requests_lock:
            self._requests.extend(keep)

    def _unread(self, tp: TopicPartition) -> bool:
        low, high = self._consumer.get_watermark_offsets(tp, timeout=5.0, cached=False)
        position = self._consumer.position([tp])[0].offset
        if position < 0:  # nothing fetched yet: starts at the committed offset or the reset
            committed = self._consumer.committed([tp], timeout=5.0)[0].offset
            position = committed if committed >= 0 else low
        return bool(high > position)

    def _commit(self, *, asynchronous: bool, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_commit < self._commit_interval:
            return
        due = self.tracker.due()
        if not due:
            return
        self._last_commit = now
        try:
            if asynchronous:
                self._consumer.commit(offsets=_offsets(due), asynchronous=True)
            else:
                self._consumer.commit(offsets=_offsets(due), asynchronous=False)
        except KafkaException as exc:
            log.warning("offset commit failed (will retry): %s", exc)
            return
        self.tracker.committed(due)

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """Commit result (served by poll, on this thread): un-mark what was not committed."""
        failed = {
            (tp.topic, tp.partition): tp.offset
            for tp in partitions
            if error is not None or tp.error is not None
        }
        if failed:
            log.warning(
                "offset commit failed for %d partition(s) (will retry): %s",
                len(failed),
                error.str() if error is not None else "per-partition errors",
            )
            self.tracker.commit_failed(failed)

    def _purge(self, keys: set[TopicPartitionKey]) -> None:
        with self._buffer_lock:
            kept = [item for item in self._buffer if (item[1].topic, item[1].partition) not in keys]
            self._buffer.clear()
            self._buffer.extend(kept)

    # -- rebalance callbacks (run inside poll, on this thread) ------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.tracker.assign((tp.topic, tp.partition) for tp in partitions)
        self._assignment_changed = True  # applied after this callback: resumed next turn
        log.info("assigned %d partition(s)", len(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        resume_leaving(consumer, partitions)
        keys = {(tp.topic, tp.partition) for tp in partitions}
        final = self.tracker.revoke(keys)
        self._purge(keys)
        if final:
            try:
                consumer.commit(offsets=_offsets(final), asynchronous=False)
            except KafkaException as exc:
                log.warning("commit on revoke failed: %s", exc)
        log.info("revoked %d partition(s)", len(partitions))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        resume_leaving(consumer, partitions)
        keys = {(tp.topic, tp.partition) for tp in partitions}
        self.tracker.revoke(keys)
        self._purge(keys)
        log.warning("lost %d partition(s); their unacked records will be redelivered", len(keys))
