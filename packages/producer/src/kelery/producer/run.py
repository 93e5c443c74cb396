"""The produce loop: hand records to librdkafka as fast as it takes them, check every report.

- ``produce`` never blocks and never flushes per message; librdkafka batches.
- ``poll(0)`` every few hundred records serves delivery reports (the
  :class:`~kelery.common.delivery.DeliveryTracker` counts each one); a full local
  queue (``BufferError``) is answered by polling until there is room, never by
  dropping the record.
- A stop request (Ctrl-C/SIGTERM, or a fatal producer error) ends the loop; what
  is in flight is then flushed for at most the flush timeout. Anything still
  unconfirmed after that is purged, which reports it as failed: nothing is
  counted as sent that the broker did not acknowledge.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from kelery.common.delivery import DeliveryTracker
from kelery.common.runtime import GracefulShutdown
from kelery.producer.dead_letters import InputDeadLetters
from kelery.producer.envelope import Template
from kelery.producer.messages import Chunk
from kelery.producer.progress import NoProgress, ProgressDisplay, Snapshot
from kelery.producer.rate import SteadyRate

log = logging.getLogger(__name__)

POLL_EVERY = 256
"""Records between two ``poll(0)`` calls when the rate is unlimited."""
FULL_QUEUE_WAIT = 0.05
"""Seconds to serve delivery reports when librdkafka's local queue is full."""
DRAIN_SLICE = 0.2
"""Longest single flush while draining, so progress keeps moving."""
KEEP_ERRORS = 20
DEFAULT_QUEUE_LIMIT = 100_000
"""librdkafka's default ``queue.buffering.max.messages``: records it holds before refusing."""


class DeliveryCount:
    """The per-record ``on_delivery``: successes counted here, failures handed to the tracker.

    :class:`~kelery.common.delivery.DeliveryTracker` takes a lock on every
    report, which costs more than a tenth of the whole per-record budget at
    several hundred thousand records a second. Here only the produce loop's own
    thread ever polls this producer, so a success is a plain increment; every
    failure still goes through the shared tracker, which logs it and keeps its
    error text for the summary.
    """

    __slots__ = ("delivered", "tracker")

    def __init__(self, tracker: DeliveryTracker) -> None:
        self.delivered = 0
        self.tracker = tracker

    def __call__(self, error: KafkaError | None, message: Message) -> None:
        """Count one delivery report from librdkafka."""
        if error is None:
            self.delivered += 1
        else:
            self.tracker(error, message)


class ErrorWatch:
    """Serve as librdkafka's ``error_cb``: a fatal error stops the run; others are logged.

    Built before the producer (which needs the callback) and handed to the loop,
    so a fatal idempotence error ends production instead of failing every record.
    """

    def __init__(self, stop: GracefulShutdown) -> None:
        self._stop = stop
        self.fatal: list[str] = []

    def __call__(self, error: KafkaError) -> None:
        """Handle one client-level error."""
        if error.fatal():
            log.error("fatal producer error: %s", error.str())
            self.fatal.append(f"fatal: {error.str()}")
            self._stop.request(f"fatal producer error ({error.name()})")
        else:
            log.warning("kafka: %s", error.str())


@dataclass
class ProduceResult:
    """What a run did; the CLI's exit status and summary come from this."""

    produced: int = 0
    delivered: int = 0
    failed: int = 0
    rejected: int = 0
    elapsed: float = 0.0
    complete: bool = True
    stopped_by: str | None = None
    fatal: bool = False
    errors: list[str] = field(default_factory=list)
    dead_letter_topic: str | None = None
    dead_lettered: int = 0
    """Invalid input lines copied to the dead-letter topic (acknowledged)."""
    not_dead_lettered: int = 0
    """Invalid input lines that did not reach the dead-letter topic either."""

    @property
    def attempted(self) -> int:
        """Every message that was tried: accepted by librdkafka or refused by it."""
        return self.delivered + self.failed

    @property
    def ok(self) -> bool:
        """True when every message sent was delivered and every input line was valid."""
        return self.failed == 0 and self.rejected == 0 and not self.fatal


class ProduceLoop:
    """One run of records through one producer, to one topic."""

    def __init__(
        self,
        producer: Producer,
        topic: str,
        *,
        tracker: DeliveryTracker,
        stop: GracefulShutdown,
        flush_timeout: float,
        headers: list[tuple[str, str | bytes | None]] | None = None,
        progress: ProgressDisplay | None = None,
        errors: ErrorWatch | None = None,
        dead_letters: InputDeadLetters | None = None,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._tracker = tracker
        self._reports = DeliveryCount(tracker)
        self._stop = stop
        self._flush_timeout = flush_timeout
        self._headers = headers or None
        self._progress = progress or NoProgress()
        self._errors = errors
        self._local_failures = 0
        self._local_errors: list[str] = []
        self._produced = 0
        self._started: float | None = None
        self._dead_letters = dead_letters
        self._queue_limit = queue_limit

    def _record_local(self, message: str) -> None:
        if len(self._local_errors) < KEEP_ERRORS:
            self._local_errors.append(message)

    def snapshot(self) -> Snapshot:
        """The counters now (also what the progress display shows)."""
        started = self._started
        return Snapshot(
            produced=self._produced,
            delivered=self._reports.delivered + self._tracker.delivered,
            failed=self._tracker.failed + self._local_failures,
            rejected=0 if self._dead_letters is None else self._dead_letters.invalid.count,
            elapsed=0.0 if started is None else time.perf_counter() - started,
        )

    def run(
        self, items: Iterator[Template | None], limiter: SteadyRate | None = None
    ) -> ProduceResult:
        """Produce every item (``None`` means "no input yet": serve callbacks and look again)."""
        try:
            complete = self._produce(items, limiter)
            self._copy_invalid_input()
            self._drain()
        finally:
            self._progress.close()
        return self._result(complete)

    def _result(self, complete: bool) -> ProduceResult:
        final = self.snapshot()
        fatal = self._errors.fatal if self._errors else []
        dead = self._dead_letters
        return ProduceResult(
            dead_letter_topic=None if dead is None else dead.dlq_topic,
            dead_lettered=0 if dead is None else dead.copied,
            not_dead_lettered=0 if dead is None else dead.not_copied,
            produced=final.produced,
            delivered=final.delivered,
            failed=final.failed,
            rejected=final.rejected,
            elapsed=final.elapsed,
            complete=complete,
            stopped_by=self._stop.signal_name,
            fatal=bool(fatal),
            errors=(fatal + self._local_errors + self._tracker.errors)[:KEEP_ERRORS],
        )

    def run_chunks(self, chunks: Iterator[Chunk]) -> ProduceResult:
        """Produce pre-built chunks of records as fast as librdkafka takes them."""
        try:
            if self._headers is None:
                complete = self._produce_batches(chunks)
            else:
                complete = self._produce_chunks_with_headers(chunks)
            self._copy_invalid_input()
            self._drain()
        finally:
            self._progress.close()
        return self._result(complete)

    def _produce_batches(self, chunks: Iterator[Chunk]) -> bool:
        """The unlimited-rate hot loop: one ``produce_batch`` call per chunk.

        ``produce_batch`` enqueues a whole chunk in one C call (each record still
        partitioned by key and confirmed by its own delivery report), which saves
        most of the per-record Python of ``produce``. Room for the chunk is made
        *before* the call, so a full queue never splits a chunk and reorders it;
        a record refused anyway comes back with ``_error``: a full queue is
        retried in order, anything else counts as failed.
        """
        produce_batch = self._producer.produce_batch
        poll = self._producer.poll
        topic, reports = self._topic, self._reports
        stopped = self._stop.event.is_set
        room = self._queue_limit
        self._copy_invalid_input()
        self._started = time.perf_counter()
        for chunk in chunks:
            if stopped():
                return False
            while self._no_room_for(len(chunk), room):
                poll(FULL_QUEUE_WAIT)  # serve delivery reports until the chunk fits
                if stopped():
                    return False
            pending = chunk
            while True:
                accepted = produce_batch(topic, pending, on_delivery=reports)
                self._produced += accepted
                if accepted == len(pending):
                    break
                pending = self._batch_leftovers(pending)
                if not pending:
                    break
                poll(FULL_QUEUE_WAIT)
                if stopped():
                    return False
            poll(0)
            self._progress.update(self.snapshot())
        return True

    def _copy_invalid_input(self) -> None:
        """Send refused input lines waiting for the DLQ (a cheap check when there are none)."""
        if self._dead_letters is not None and self._dead_letters.invalid.pending:
            self._dead_letters.send_pending(self._stop.event.is_set)

    def _idle(self, seconds: float) -> None:
        """Wait between paced records: serve reports, or sleep below poll's 1 ms resolution.

        ``poll`` takes whole milliseconds, so a shorter wait would spin.
        """
        if seconds >= 0.001:
            self._producer.poll(seconds)
        else:
            time.sleep(seconds)

    def _no_room_for(self, count: int, room: int) -> bool:
        """True while ``count`` more records would overflow a non-empty local queue."""
        held = len(self._producer)
        return held > 0 and held + count > room

    def _batch_leftovers(self, batch: Chunk) -> Chunk:
        """From a partly refused batch: the records to retry (queue full); count the rest."""
        retry: Chunk = []
        for record in batch:
            error = record.pop("_error", None)
            if error is None:
                continue
            if error.code() == KafkaError._QUEUE_FULL:
                retry.append(record)
            else:
                self._refused(KafkaException(error))
        return retry

    def _produce_chunks_with_headers(self, chunks: Iterator[Chunk]) -> bool:
        """``produce_batch`` cannot send headers; with ``--header`` each record is produced."""
        produce = self._producer.produce
        poll = self._producer.poll
        topic, headers, reports = self._topic, self._headers, self._reports
        stopped = self._stop.event.is_set
        self._copy_invalid_input()
        self._started = time.perf_counter()
        for chunk in chunks:
            if stopped():
                return False
            for record in chunk:
                while True:
                    try:
                        produce(
                            topic,
                            record["value"],
                            record["key"],
                            on_delivery=reports,
                            headers=headers,
                        )
                    except BufferError:
                        poll(FULL_QUEUE_WAIT)  # queue full: serve reports until there is room
                        if stopped():
                            return False
                        continue
                    except KafkaException as exc:
                        self._refused(exc)
                    else:
                        self._produced += 1
                    break
            poll(0)
            self._progress.update(self.snapshot())
        return True

    def _refused(self, exc: KafkaException) -> None:
        """Count a record librdkafka refused outright (too large, unknown partition, ...)."""
        self._local_failures += 1
        self._record_local(f"{self._topic}: {exc.args[0].str() if exc.args else exc}")
        log.error("produce to %s refused: %s", self._topic, exc)

    def _produce(self, items: Iterator[Template | None], limiter: SteadyRate | None) -> bool:
        """The hot loop; returns False when it stopped before the input ended."""
        produce = self._producer.produce
        poll = self._producer.poll
        topic, headers, tracker = self._topic, self._headers, self._reports
        stopped = self._stop.event.is_set
        report_every = 1 if limiter is not None else POLL_EVERY
        for item in items:
            self._copy_invalid_input()
            if item is None:
                poll(0)
                self._progress.update(self.snapshot())
                if stopped():
                    return False
                continue
            if limiter is not None:
                if not limiter.wait(self._idle, stopped):
                    return False
            elif stopped():
                return False
            value = item.build()
            if self._started is None:
                self._started = time.perf_counter()
            while True:
                try:
                    produce(topic, value, item.key, on_delivery=tracker, headers=headers)
                except BufferError:
                    # librdkafka's queue is full: serve reports until there is room.
                    poll(FULL_QUEUE_WAIT)
                    if stopped():
                        return False
                    continue
                except KafkaException as exc:
                    self._refused(exc)
                else:
                    self._produced += 1
                break
            if self._produced % report_every == 0:
                poll(0)
                self._progress.update(self.snapshot())
        return True

    def _drain(self) -> None:
        """Wait for in-flight records; purge (so they count as failed) what is left at timeout."""
        deadline = time.monotonic() + self._flush_timeout
        while len(self._producer) > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._producer.flush(min(left, DRAIN_SLICE))
            self._progress.update(self.snapshot())
        left_over = len(self._producer)
        if left_over:
            log.error(
                "%d messages not confirmed within %g s (PRODUCER_FLUSH_TIMEOUT); giving up on them",
                left_over,
                self._flush_timeout,
            )
            self._producer.purge()
            self._producer.poll(0)  # serve the purge reports, so the tracker counts them
            self._producer.flush(0)
