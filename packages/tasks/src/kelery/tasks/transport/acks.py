"""Acks of a channel's consumer thread: kelery-common's offset ledgers, made safe to share.

The commit rule itself (commit below the lowest record not yet acked, never the
position of the latest ack, which is what kombu's own Kafka transport does) is
kelery-common's :mod:`kelery.common.offsets`, the same bookkeeping kelery-consume
uses. What the transport adds: a lock (Celery acks on its own thread, the
consumer thread delivers and commits), ownership (only assigned partitions are
tracked) and a generation per assignment, so an ack that arrives after its
partition was revoked (and perhaps assigned again) never moves the new owner's
commit point.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from kelery.common.offsets import OffsetTracker, PartitionKey

TopicPartitionKey = PartitionKey


@dataclass(frozen=True)
class Position:
    """Where a delivered record came from: enough to ack it later."""

    topic: str
    partition: int
    offset: int
    generation: int


class AckTracker:
    """Thread-safe offsets of the partitions a consumer owns right now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offsets = OffsetTracker()
        self._generations: dict[TopicPartitionKey, int] = {}

    def _next_generation(self, keys: list[TopicPartitionKey]) -> None:
        for key in keys:
            self._generations[key] = self._generations.get(key, 0) + 1

    def assign(self, partitions: Iterable[TopicPartitionKey]) -> None:
        """Start fresh ledgers for newly assigned partitions."""
        keys = list(partitions)
        with self._lock:
            self._next_generation(keys)
            self._offsets.assign(keys)

    def revoke(self, partitions: Iterable[TopicPartitionKey]) -> dict[TopicPartitionKey, int]:
        """Forget revoked partitions; return what to commit for them before letting go."""
        keys = list(partitions)
        with self._lock:
            self._next_generation(keys)
            final, _ = self._offsets.forget(keys)
        return final

    def delivered(self, topic: str, partition: int, offset: int) -> Position | None:
        """Record a record handed to Celery; None if its partition is not ours any more."""
        key = (topic, partition)
        with self._lock:
            if not self._offsets.owns(key):
                return None
            self._offsets.started(topic, partition, offset)
            return Position(topic, partition, offset, self._generations[key])

    def acked(self, position: Position) -> bool:
        """Record an ack; False when it is stale (revoked meanwhile) or already counted."""
        key = (position.topic, position.partition)
        with self._lock:
            if self._generations.get(key) != position.generation:
                return False
            return self._offsets.finished(position.topic, position.partition, position.offset)

    def due(self) -> dict[TopicPartitionKey, int]:
        """Offsets that moved since the last commit (call :meth:`committed` once sent)."""
        with self._lock:
            return self._offsets.committable()

    def committed(self, offsets: dict[TopicPartitionKey, int]) -> None:
        """Note that ``offsets`` were committed, so :meth:`due` stops returning them."""
        with self._lock:
            self._offsets.mark_committed(offsets)

    def commit_failed(self, offsets: dict[TopicPartitionKey, int]) -> None:
        """Undo :meth:`committed` for ``offsets`` Kafka refused, so :meth:`due` retries them.

        Commits are sent asynchronously and marked at once (so one in flight is not
        resent every turn); the commit callback reports a failure here.
        """
        with self._lock:
            self._offsets.commit_failed(offsets)

    def unacked(self) -> int:
        """Records delivered and not yet acked, over all owned partitions."""
        with self._lock:
            return self._offsets.pending
