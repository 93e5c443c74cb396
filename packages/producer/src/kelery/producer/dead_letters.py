"""Invalid input is not dropped: each refused line is copied to ``<topic>.dlq``, with why.

A line that cannot become a message (not UTF-8, not JSON, not a valid envelope)
is reported and not sent to the target topic, but the line itself may exist
nowhere else (``tail -f app.log | kelery-produce -``). So its exact bytes go to
the target's dead-letter topic with the same explanation headers every Kelery
DLQ record carries (:func:`kelery.common.dlq.dlq_headers`: ``kelery-error``,
``kelery-stage: producer``, ``kelery-origin-topic`` = the target topic, partition
and offset ``-1`` since the line never was a record) plus
``kelery-origin-input``: where the line came from (``events.jsonl:3``, ``stdin:12``).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Final

from confluent_kafka import KafkaException, Producer

from kelery.common.delivery import DeliveryTracker, produce_when_room
from kelery.common.dlq import dlq_headers, dlq_topic_for
from kelery.producer.sources import InputLine

log = logging.getLogger(__name__)

ORIGIN_INPUT_HEADER: Final = "kelery-origin-input"
STAGE: Final = "producer"
FULL_QUEUE_WAIT = 0.05


class InvalidInput:
    """The compile step's ``on_invalid``: counts refused lines and holds them for the DLQ."""

    def __init__(self) -> None:
        self.count = 0
        self.pending: deque[tuple[InputLine, str]] = deque()

    def __call__(self, line: InputLine, reason: str) -> None:
        """Remember one refused line and why (the reason is already logged)."""
        self.count += 1
        self.pending.append((line, reason))


class InputDeadLetters:
    """Produces refused input lines to the target topic's DLQ and tracks their delivery."""

    def __init__(self, producer: Producer, topic: str, invalid: InvalidInput) -> None:
        self._producer = producer
        self._topic = topic
        self.dlq_topic = dlq_topic_for(topic)
        self.invalid = invalid
        self.tracker = DeliveryTracker()
        self.refused = 0

    def send_pending(self, stopped: Callable[[], bool]) -> None:
        """Produce every refused line waiting so far (non-blocking unless the queue is full)."""
        pending = self.invalid.pending
        while pending:
            line, reason = pending[0]
            headers: list[tuple[str, str | bytes | None]] = [
                *dlq_headers(reason, topic=self._topic, partition=-1, offset=-1, stage=STAGE),
                (ORIGIN_INPUT_HEADER, line.origin.encode("utf-8")),
            ]
            try:
                went_in = produce_when_room(
                    self._producer,
                    partial(
                        self._producer.produce,
                        self.dlq_topic,
                        line.data,
                        on_delivery=self.tracker,
                        headers=headers,
                    ),
                    wait_s=FULL_QUEUE_WAIT,
                    stopped=stopped,
                )
                if not went_in:
                    return
            except KafkaException as exc:
                self.refused += 1
                log.error("could not copy %s to %s: %s", line.origin, self.dlq_topic, exc)  # noqa: TRY400
            pending.popleft()

    @property
    def copied(self) -> int:
        """Refused lines the DLQ topic acknowledged."""
        return self.tracker.delivered

    @property
    def not_copied(self) -> int:
        """Refused lines that did not reach the DLQ (refused, failed, or never sent)."""
        return self.refused + self.tracker.failed + len(self.invalid.pending)
