"""Per-channel message counts, kept in a compacted Kafka topic.

Why a topic: the counts must be shared by every worker process on every host
and survive restarts, and Kafka is already there (a result backend is optional
in Kelery, so it cannot be the store). Why one record per message instead of a
counter per channel: a read-modify-write counter races between workers and
double counts when a task is redelivered. Here ``record_message`` writes one
record keyed ``<channel>/<message uuid>``; a redelivered message writes the
same key again, compaction keeps one, and the reader counts distinct keys, so
counting is idempotent. The cost is one small record per counted message
(a few dozen bytes); the reader scans the topic, which is fine for chat volumes.

``stats`` reads every partition from the start to its high watermark (which,
with ``acks=all``, includes every record whose task already finished), so the
answer reflects at least every message recorded before it was asked.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from kelery.common.kafka_config import client_config
from kelery.common.settings import KafkaSettings
from kelery.common.topics import TopicSpec, ensure_topics
from kelery.tasks.publisher import ProcessProducer

NO_CHANNEL = "-"
_SEPARATOR = "/"


def count_key(channel_id: str | None, message_uuid: str) -> bytes:
    """The record key of one counted message: channel and message, so duplicates collapse."""
    return f"{channel_id or NO_CHANNEL}{_SEPARATOR}{message_uuid}".encode()


def tally(keys: Iterable[bytes | None]) -> dict[str, int]:
    """Count distinct message keys per channel (keys that are not ours are skipped)."""
    seen: dict[str, set[str]] = defaultdict(set)
    for key in keys:
        if not key:
            continue
        channel, sep, message = key.decode("utf-8", errors="replace").partition(_SEPARATOR)
        if sep and message:
            seen[channel].add(message)
    return {channel: len(messages) for channel, messages in seen.items()}


@dataclass
class MessageCounts:
    """Record messages into, and read counts from, the counts topic."""

    kafka: KafkaSettings
    topic: str
    partitions: int
    producer: ProcessProducer
    read_timeout: float = 30.0
    _topic_ready: bool = False

    def _ensure_topic(self) -> None:
        if not self._topic_ready:
            spec = TopicSpec(
                self.topic, partitions=self.partitions, config={"cleanup.policy": "compact"}
            )
            ensure_topics(self.kafka, [spec])
            self._topic_ready = True

    def record(self, channel_id: str | None, message_uuid: str) -> None:
        """Count one message; returns once the record is durably in the topic."""
        self._ensure_topic()
        self.producer.produce_and_wait(
            self.topic,
            key=count_key(channel_id, message_uuid),
            value=(channel_id or NO_CHANNEL).encode("utf-8"),
        )

    def read(self) -> dict[str, int]:
        """The current counts per channel (``-`` for messages without a channel)."""
        self._ensure_topic()
        consumer = Consumer(
            client_config(
                self.kafka,
                "consumer",
                group_id=f"kelery-stats-reader-{uuid.uuid4().hex[:8]}",
                enable_partition_eof=False,
            )
        )
        try:
            return tally(self._read_keys(consumer))
        finally:
            consumer.close()

    def _read_keys(self, consumer: Consumer) -> list[bytes | None]:
        metadata = consumer.list_topics(self.topic, timeout=self.read_timeout)
        partitions = sorted(metadata.topics[self.topic].partitions)
        ends: dict[int, int] = {}
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), timeout=self.read_timeout
            )
            if high > low:
                ends[partition] = high
        if not ends:
            return []
        consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in ends])
        keys: list[bytes | None] = []
        deadline = time.monotonic() + self.read_timeout
        while ends:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {self.topic} took over {self.read_timeout:.0f}s")
            record = consumer.poll(0.5)
            if record is None:
                _drop_finished(consumer, self.topic, ends)
                continue
            error = record.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(error)
            keys.append(record.key())
            partition, offset = record.partition(), record.offset()
            if partition in ends and offset is not None and offset + 1 >= ends[partition]:
                del ends[partition]
        return keys


def _drop_finished(consumer: Consumer, topic: str, ends: dict[int, int]) -> None:
    """Forget partitions read up to their end (compaction may leave offset gaps)."""
    positions = consumer.position([TopicPartition(topic, p) for p in ends])
    for position in positions:
        if position.offset >= 0 and position.offset >= ends.get(position.partition, 0):
            ends.pop(position.partition, None)
