"""Which offset a consumer may commit, when acks arrive out of order.

Kafka remembers one offset per partition: "everything below this is done". A
Celery worker with a prefork pool and prefetch finishes tasks in any order, so
committing the position of the latest ack (what kombu's own Kafka transport does)
would mark unfinished tasks done, and a crash would lose them.

:class:`AckLedger` keeps, per partition, the offsets handed out but not yet acked;
the committable offset is the lowest of them (or one past the highest delivered
when none is pending). :class:`AckTracker` holds a ledger per assigned partition
and a generation per assignment, so an ack that arrives after its partition was
revoked (and perhaps assigned again) never moves the new owner's commit point.
Pure logic, no Kafka: the consumer thread drives it and commits what it returns.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

TopicPartitionKey = tuple[str, int]


@dataclass
class AckLedger:
    """Delivered-but-unacked offsets of one partition, in delivery order."""

    _pending: deque[int] = field(default_factory=deque)
    _acked: set[int] = field(default_factory=set)
    _next: int | None = None
    committed: int | None = None

    def delivered(self, offset: int) -> None:
        """Record that ``offset`` was handed out (offsets arrive in increasing order)."""
        if self._next is not None and offset < self._next:
            raise ValueError(f"offset {offset} delivered after {self._next - 1}")
        self._pending.append(offset)
        self._next = offset + 1

    def acked(self, offset: int) -> None:
        """Record that ``offset`` is done; unknown offsets are ignored."""
        pending = self._pending
        if not pending or offset < pending[0] or offset >= (self._next or 0):
            return
        if offset == pending[0]:
            pending.popleft()
            acked = self._acked
            while pending and pending[0] in acked:
                acked.discard(pending.popleft())
        else:
            self._acked.add(offset)

    @property
    def unacked(self) -> int:
        """How many delivered offsets still wait for their ack."""
        return len(self._pending) - len(self._acked)

    def committable(self) -> int | None:
        """The offset to commit (the next one to read), or None before any delivery."""
        if self._pending:
            return self._pending[0]
        return self._next

    def advanced(self) -> int | None:
        """The committable offset if it moved past the last commit, else None."""
        offset = self.committable()
        if offset is None or (self.committed is not None and offset <= self.committed):
            return None
        return offset


@dataclass(frozen=True)
class Position:
    """Where a delivered record came from: enough to ack it later."""

    topic: str
    partition: int
    offset: int
    generation: int


class AckTracker:
    """Thread-safe ledgers of the partitions a consumer owns right now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ledgers: dict[TopicPartitionKey, AckLedger] = {}
        self._generations: dict[TopicPartitionKey, int] = {}

    def assign(self, partitions: Iterable[TopicPartitionKey]) -> None:
        """Start fresh ledgers for newly assigned partitions."""
        with self._lock:
            for key in partitions:
                self._generations[key] = self._generations.get(key, 0) + 1
                self._ledgers[key] = AckLedger()

    def revoke(self, partitions: Iterable[TopicPartitionKey]) -> dict[TopicPartitionKey, int]:
        """Forget revoked partitions; return what to commit for them before letting go."""
        out: dict[TopicPartitionKey, int] = {}
        with self._lock:
            for key in partitions:
                ledger = self._ledgers.pop(key, None)
                self._generations[key] = self._generations.get(key, 0) + 1
                if ledger is not None and (offset := ledger.advanced()) is not None:
                    out[key] = offset
        return out

    def delivered(self, topic: str, partition: int, offset: int) -> Position | None:
        """Record a record handed to Celery; None if its partition is not ours any more."""
        key = (topic, partition)
        with self._lock:
            ledger = self._ledgers.get(key)
            if ledger is None:
                return None
            ledger.delivered(offset)
            return Position(topic, partition, offset, self._generations[key])

    def acked(self, position: Position) -> bool:
        """Record an ack; False when it is stale (its partition was revoked meanwhile)."""
        key = (position.topic, position.partition)
        with self._lock:
            ledger = self._ledgers.get(key)
            if ledger is None or self._generations.get(key) != position.generation:
                return False
            ledger.acked(position.offset)
            return True

    def due(self) -> dict[TopicPartitionKey, int]:
        """Offsets that moved since the last commit (call :meth:`committed` once sent)."""
        with self._lock:
            return {
                key: offset
                for key, ledger in self._ledgers.items()
                if (offset := ledger.advanced()) is not None
            }

    def committed(self, offsets: dict[TopicPartitionKey, int]) -> None:
        """Note that ``offsets`` were committed, so :meth:`due` stops returning them."""
        with self._lock:
            for key, offset in offsets.items():
                ledger = self._ledgers.get(key)
                if ledger is not None and (ledger.committed is None or offset > ledger.committed):
                    ledger.committed = offset

    def commit_failed(self, offsets: dict[TopicPartitionKey, int]) -> None:
        """Undo :meth:`committed` for ``offsets`` Kafka refused, so :meth:`due` retries them.

        Commits are sent asynchronously and marked at once (so one in flight is not
        resent every turn); the commit callback reports a failure here. A partition
        whose mark has moved on (a later commit sent, or re-assigned) is left alone.
        """
        with self._lock:
            for key, offset in offsets.items():
                ledger = self._ledgers.get(key)
                if ledger is not None and ledger.committed == offset:
                    ledger.committed = None

    def unacked(self) -> int:
        """Records delivered and not yet acked, over all owned partitions."""
        with self._lock:
            return sum(ledger.unacked for ledger in self._ledgers.values())
