"""Which offset a consumer may commit when records finish out of order.

Kafka keeps one committed offset per partition, meaning "every record below this
is done". Records finish in any order (a publish confirmed later than the next
one, a Celery prefork pool with prefetch), so committing the position of the
latest finished record would mark unfinished ones done, and a crash would lose
them. Per partition, :class:`OffsetLedger` keeps the offsets read and not yet
finished; the committable offset is the lowest of them, or one past the highest
read when none is pending. A crash then replays at most the unfinished tail:
duplicates are possible, loss is not.

:class:`OffsetTracker` holds a ledger per partition. It is pure bookkeeping (no
Kafka, no locks): kelery-consume drives it from its poll loop, and the Celery
transport wraps it with a lock and assignment generations.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

PartitionKey = tuple[str, int]


class OffsetLedger:
    """Read-but-unfinished offsets of one partition, in read order."""

    def __init__(self) -> None:
        self._pending: deque[int] = deque()
        self._unfinished: set[int] = set()
        self._next: int | None = None
        self.committed: int | None = None

    def started(self, offset: int) -> bool:
        """Track ``offset`` as read; False if it is already known (read again after a seek).

        An offset already pending stays pending once; one below the highest read
        that is not pending was finished before, so a second run of it is a
        duplicate that must not hold the commit point back.
        """
        if offset in self._unfinished or (self._next is not None and offset < self._next):
            return False
        self._pending.append(offset)
        self._unfinished.add(offset)
        self._next = offset + 1
        return True

    def finished(self, offset: int) -> bool:
        """Mark ``offset`` done; False for an offset not pending (late, or finished twice)."""
        if offset not in self._unfinished:
            return False
        self._unfinished.discard(offset)
        pending = self._pending
        while pending and pending[0] not in self._unfinished:
            pending.popleft()
        return True

    @property
    def unfinished(self) -> int:
        """How many read offsets still wait to be finished."""
        return len(self._unfinished)

    def commit_point(self) -> int | None:
        """The offset a commit may name now (Kafka's "next to read"); None before any read."""
        if self._pending:
            return self._pending[0]
        return self._next

    def advanced(self) -> int | None:
        """The commit point if it moved past the last commit, else None."""
        point = self.commit_point()
        if point is None or (self.committed is not None and point <= self.committed):
            return None
        return point


class OffsetTracker:
    """A ledger per partition; see the module docstring. Not thread-safe."""

    def __init__(self) -> None:
        self._ledgers: dict[PartitionKey, OffsetLedger] = {}

    @property
    def pending(self) -> int:
        """Read records not finished yet, over all partitions."""
        return sum(ledger.unfinished for ledger in self._ledgers.values())

    def owns(self, key: PartitionKey) -> bool:
        """True if ``key`` has a ledger (assigned, or read since)."""
        return key in self._ledgers

    def assign(self, keys: Iterable[PartitionKey]) -> None:
        """Start fresh ledgers for ``keys`` (a new assignment forgets the old state)."""
        for key in keys:
            self._ledgers[key] = OffsetLedger()

    def started(self, topic: str, partition: int, offset: int) -> bool:
        """Track a record as read (a new partition gets a ledger); False if already known."""
        ledger = self._ledgers.get((topic, partition))
        if ledger is None:
            ledger = self._ledgers[(topic, partition)] = OffsetLedger()
        return ledger.started(offset)

    def finished(self, topic: str, partition: int, offset: int) -> bool:
        """Mark a record done; False if unknown (its partition was revoked meanwhile)."""
        ledger = self._ledgers.get((topic, partition))
        return ledger is not None and ledger.finished(offset)

    def committable(self, only: Iterable[PartitionKey] | None = None) -> dict[PartitionKey, int]:
        """Partition -> offset to commit, for partitions whose commit point moved."""
        keys = self._ledgers if only is None else [k for k in only if k in self._ledgers]
        return {key: point for key in keys if (point := self._ledgers[key].advanced()) is not None}

    def mark_committed(self, offsets: dict[PartitionKey, int]) -> None:
        """Remember what was committed, so :meth:`committable` stops offering it."""
        for key, offset in offsets.items():
            ledger = self._ledgers.get(key)
            if ledger is not None and (ledger.committed is None or offset > ledger.committed):
                ledger.committed = offset

    def commit_failed(self, offsets: dict[PartitionKey, int]) -> None:
        """Undo :meth:`mark_committed` for offsets Kafka refused, so they are offered again.

        For asynchronous commits, marked when sent and reported on later. A partition
        whose mark has moved on since (a later commit sent, or re-assigned) is left alone.
        """
        for key, offset in offsets.items():
            ledger = self._ledgers.get(key)
            if ledger is not None and ledger.committed == offset:
                ledger.committed = None

    def forget(self, keys: Iterable[PartitionKey]) -> tuple[dict[PartitionKey, int], int]:
        """Drop revoked partitions: what to commit for them first, and how many were unfinished."""
        final: dict[PartitionKey, int] = {}
        dropped = 0
        for key in keys:
            ledger = self._ledgers.pop(key, None)
            if ledger is None:
                continue
            dropped += ledger.unfinished
            if (point := ledger.advanced()) is not None:
                final[key] = point
        return final, dropped
