"""The consume loop: read, decide, dispatch, commit what is done — at least once.

Auto-commit is off (kelery-common's consumer config). Each record is tracked
from the moment it is read until its dispatcher says it is durably handed on;
offsets are committed in batches (every N records read, or every T seconds
whenever some partition's done-prefix moved past its last successful commit),
on partition revoke (after in-flight replies/DLQ copies are flushed) and on
shutdown. A ``kill -9`` therefore replays at most the records after the last
commit, and a reply confirmed after the last read is committed on the next tick,
not only when new input arrives.

Records are read with :func:`kelery.common.batches.poll_batch`: a lone record
is handed over as it arrives, a backlog in batches (``consume()`` alone held a
single record for its whole timeout).

While a failed task publish is retried, the loop pauses its partitions and keeps
polling between attempts: a Celery broker outage may last longer
than ``max.poll.interval.ms``, and a consumer that stops polling that long is
evicted from its group (its partitions then go to another member mid-retry).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from kelery.common.batches import poll_batch
from kelery.common.errors import KeleryError
from kelery.common.offsets import OffsetTracker, PartitionKey
from kelery.common.resume import resume_fetching, resume_leaving
from kelery.consumer.decide import Decider, Decision
from kelery.consumer.dispatch import Dispatcher, Done, PublishError
from kelery.consumer.metrics import ConsumerStats, SummaryReporter

log = logging.getLogger(__name__)

_RETRY_FIRST_S = 0.5
_RETRY_MAX_S = 30.0


class StopFlag(Protocol):
    """What the loop needs from :class:`kelery.common.runtime.GracefulShutdown`."""

    @property
    def requested(self) -> bool:
        """True once a stop was asked for."""
        ...

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep up to ``timeout`` s unless a stop is asked for; True if asked."""
        ...


class ConsumeError(KeleryError):
    """The loop had to stop: Kafka reported a fatal error or a delivery finally failed."""


@dataclass(frozen=True)
class LoopOptions:
    """How the loop reads and commits (filled from settings and CLI flags)."""

    topics: list[str]
    commit: bool = True
    commit_batch_size: int = 500
    commit_interval_s: float = 1.0
    poll_batch: int = 500
    poll_timeout_s: float = 0.5
    summary_interval_s: float = 30.0
    shutdown_timeout_s: float = 30.0
    max_records: int | None = None
    stop_at_end: bool = False


def commit_due(
    *,
    read_since_commit: int,
    seconds_since_commit: float,
    has_committable: bool,
    batch_size: int,
    interval_s: float,
) -> bool:
    """Whether to commit now.

    ``has_committable`` (the tracker holds offsets newer than the last successful
    commit) decides, not how many records were read: a reply or DLQ copy may be
    confirmed after the last read, and a failed commit leaves its offsets pending,
    so both are committed on the next tick without waiting for new input.
    """
    if not has_committable:
        return False
    return read_since_commit >= batch_size or seconds_since_commit >= interval_s


@dataclass
class _State:
    assigned: set[PartitionKey] = field(default_factory=set)
    at_end: set[PartitionKey] = field(default_factory=set)
    since_commit: int = 0
    last_commit: float = field(default_factory=time.monotonic)
    # Partitions revoked or lost since the current batch was read: the rest of the
    # batch (and a publish being retried) from them is left to their next owner.
    stale: set[PartitionKey] = field(default_factory=set)


class ConsumeLoop:
    """One Kafka consumer, one decider, one dispatcher; :meth:`run` until told to stop."""

    def __init__(
        self,
        consumer: Consumer,
        decider: Decider,
        dispatcher: Dispatcher,
        options: LoopOptions,
        stats: ConsumerStats | None = None,
    ) -> None:
        self.stats = stats or ConsumerStats()
        self._consumer = consumer
        self._decider = decider
        self._dispatcher = dispatcher
        self._options = options
        self._tracker = OffsetTracker()
        self._state = _State()
        self._summary = SummaryReporter(self.stats, options.summary_interval_s, self.lag)

    def run(self, stop: StopFlag) -> ConsumerStats:
        """Consume until ``stop``, the record limit or (``stop_at_end``) the end of input.

        Always flushes in-flight deliveries and commits what is done before it
        returns or raises :class:`ConsumeError`.
        """
        try:
            self._consumer.subscribe(
                self._options.topics,
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            log.info("consuming %s", ", ".join(self._options.topics))
            while not stop.requested and not self._finished():
                messages = poll_batch(
                    self._consumer, self._batch_size(), self._options.poll_timeout_s
                )
                self._state.stale.clear()
                for message in messages:
                    error = message.error()
                    if error is not None:
                        self._on_error(error, message)
                    elif not self._handle(message, stop):
                        break
                self._dispatcher.poll()
                if self._dispatcher.fatal is not None:
                    raise ConsumeError(self._dispatcher.fatal)
                self._maybe_commit()
                self._summary.maybe_report()
        except KafkaException as exc:
            raise ConsumeError(f"Kafka consumer error: {exc}") from exc
        finally:
            self._shutdown()
        return self.stats

    def _batch_size(self) -> int:
        if self._options.max_records is None:
            return self._options.poll_batch
        left = self._options.max_records - self.stats.records
        return max(1, min(self._options.poll_batch, left))

    def _finished(self) -> bool:
        if self._options.max_records is not None and self.stats.records >= (
            self._options.max_records
        ):
            return True
        if not self._options.stop_at_end or not self._state.assigned:
            return False
        return self._state.assigned <= self._state.at_end and self._tracker.pending == 0

    def _handle(self, message: Message, stop: StopFlag) -> bool:
        """Decide and dispatch one record; False if a stop came while retrying a publish."""
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        if topic is None or partition is None or offset is None:  # pragma: no cover - librdkafka
            return True
        if (topic, partition) in self._state.stale:
            return True  # revoked while an earlier record of this batch was retried
        self._tracker.started(topic, partition, offset)
        self.stats.records += 1
        self._state.since_commit += 1
        self._state.at_end.discard((topic, partition))
        decision = self._decider.decide(message.value())
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s[%d]@%d %s", topic, partition, offset, decision.describe())
        done = partial(self._tracker.finished, topic, partition, offset)
        return self._dispatch_with_retry(decision, message, done, stop)

    def _dispatch_with_retry(
        self, decision: Decision, message: Message, done: Done, stop: StopFlag
    ) -> bool:
        """Dispatch; retry a failed publish with backoff, staying in the group meanwhile.

        The first failure pauses the assigned partitions; they are resumed however
        the retries end (sent, stop requested, or the record's partition revoked).
        """
        key = (message.topic() or "", message.partition() or 0)
        paused: set[PartitionKey] = set()
        delay = _RETRY_FIRST_S
        try:
            while True:
                try:
                    self._dispatcher.dispatch(decision, message, done)
                except PublishError as error:
                    if not paused:
                        paused = self._pause(self._state.assigned)
                    self.stats.publish_retries += 1
                    log.warning("%s; retrying in %.1f s", error, delay)
                else:
                    return True
                if self._wait_in_group(delay, stop, paused):
                    log.warning("stop requested while retrying; the record stays uncommitted")
                    return False
                if key in self._state.stale:
                    log.warning("%s[%d] was revoked while retrying; left to its next owner", *key)
                    return True
                delay = min(delay * 2, _RETRY_MAX_S)
        finally:
            self._resume(paused)

    def _wait_in_group(self, delay: float, stop: StopFlag, paused: set[PartitionKey]) -> bool:
        """Wait ``delay`` s polling the paused partitions; True if a stop came.

        Polling is what tells Kafka this member is alive (``max.poll.interval.ms``)
        and what runs rebalance callbacks; delivery reports and commits go on too. A
        record it still returns (a partition assigned meanwhile, or fetched before the
        pause) is put back with ``seek()`` and its partition paused, so it is read again
        after the retry, in order.
        """
        deadline = time.monotonic() + delay
        while not stop.requested:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            messages = poll_batch(
                self._consumer, self._options.poll_batch, min(left, self._options.poll_timeout_s)
            )
            rewind: dict[PartitionKey, int] = {}
            for message in messages:
                error = message.error()
                if error is not None:
                    self._on_error(error, message)
                    continue
                topic, partition, offset = message.topic(), message.partition(), message.offset()
                if topic is not None and partition is not None and offset is not None:
                    rewind.setdefault((topic, partition), offset)
            if rewind:
                paused |= self._pause(set(rewind))
                for (topic, partition), offset in rewind.items():
                    self._consumer.seek(TopicPartition(topic, partition, offset))
            self._dispatcher.poll()
            if self._dispatcher.fatal is not None:
                raise ConsumeError(self._dispatcher.fatal)
            self._maybe_commit()
        return True

    def _pause(self, keys: set[PartitionKey]) -> set[PartitionKey]:
        if keys:
            self._consumer.pause([TopicPartition(t, p) for t, p in sorted(keys)])
        return set(keys)

    def _resume(self, keys: set[PartitionKey]) -> None:
        """Resume what was paused and is still ours (a revoked partition is not resumable)."""
        mine = keys & self._state.assigned
        resume_fetching(self._consumer, [TopicPartition(t, p) for t, p in sorted(mine)])

    def _on_error(self, error: KafkaError, message: Message) -> None:
        if error.code() == KafkaError._PARTITION_EOF:
            topic, partition = message.topic(), message.partition()
            if topic is not None and partition is not None:
                self._state.at_end.add((topic, partition))
            return
        if error.fatal():
            raise ConsumeError(f"Kafka consumer error: {error.str()}")
        log.warning("Kafka consumer: %s", error.str())

    def _maybe_commit(self) -> None:
        state = self._state
        now = time.monotonic()
        due = commit_due(
            read_since_commit=state.since_commit,
            seconds_since_commit=now - state.last_commit,
            has_committable=self._options.commit and bool(self._tracker.committable()),
            batch_size=self._options.commit_batch_size,
            interval_s=self._options.commit_interval_s,
        )
        if due:
            # Reset even when the commit fails: the offsets stay committable (the
            # tracker marks only what Kafka accepted), so the next interval retries.
            self._commit()
            state.since_commit = 0
            state.last_commit = now

    def _commit(self, only: set[PartitionKey] | None = None) -> None:
        """Synchronously commit every partition whose done-prefix advanced.

        A failure is logged and the offsets stay pending in the tracker, so the
        next commit (on the interval, at revoke or at shutdown) tries them again.
        """
        if not self._options.commit:
            return
        offsets = self._tracker.committable(only)
        if not offsets:
            return
        wanted = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            result = self._consumer.commit(offsets=wanted, asynchronous=False)
        except KafkaException as exc:
            log.warning("commit failed, will retry: %s", exc)
            return
        failed = {(tp.topic, tp.partition) for tp in result or [] if tp.error is not None}
        for tp in result or []:
            if tp.error is not None:
                log.warning("commit of %s[%d] failed: %s", tp.topic, tp.partition, tp.error)
        self._tracker.mark_committed({k: v for k, v in offsets.items() if k not in failed})
        self.stats.commits += 1
        log.debug("committed %s", offsets)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = {(tp.topic, tp.partition) for tp in partitions}
        log.info("assigned %s", _names(keys))
        self._state.assigned |= keys
        self._state.at_end -= keys

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = {(tp.topic, tp.partition) for tp in partitions}
        self._state.stale |= keys
        left = self._dispatcher.flush(self._options.shutdown_timeout_s)
        if left:
            log.warning("%d deliveries unconfirmed at revoke; their records will be re-read", left)
        self._commit(only=keys)
        resume_leaving(self._consumer, partitions)
        _, dropped = self._tracker.forget(keys)
        log.info("revoked %s (%d unfinished records left to the next owner)", _names(keys), dropped)
        self._state.assigned -= keys
        self._state.at_end -= keys

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = {(tp.topic, tp.partition) for tp in partitions}
        self._state.stale |= keys
        resume_leaving(self._consumer, partitions)
        _, dropped = self._tracker.forget(keys)
        log.warning("lost %s without commit (%d unfinished records)", _names(keys), dropped)
        self._state.assigned -= keys
        self._state.at_end -= keys

    def lag(self) -> int | None:
        """Records not yet read on the assigned partitions (None if Kafka cannot say).

        Called from the consume loop, so it never asks the broker: positions and
        watermarks are librdkafka's cached values (the high watermark comes with
        every fetch response). A partition without a cached position or watermark
        yet is left out; None if no partition could be counted.
        """
        try:
            positions = self._consumer.position(self._consumer.assignment())
            total = 0
            counted = 0
            for tp in positions:
                low, high = self._consumer.get_watermark_offsets(tp, cached=True)
                position = tp.offset if tp.offset >= 0 else low
                if high < 0 or position < 0:
                    continue
                total += max(high - position, 0)
                counted += 1
        except KafkaException as exc:
            log.debug("lag unavailable: %s", exc)
            return None
        return total if counted or not positions else None

    def _shutdown(self) -> None:
        left = self._dispatcher.flush(self._options.shutdown_timeout_s)
        if left:
            log.warning("%d deliveries unconfirmed at exit; their records will be re-read", left)
        self._dispatcher.poll()
        self._commit()
        self._summary.report("final")
        try:
            self._consumer.close()
        finally:
            self._dispatcher.close()


def _names(keys: set[PartitionKey]) -> str:
    return ", ".join(f"{t}[{p}]" for t, p in sorted(keys)) or "nothing"
