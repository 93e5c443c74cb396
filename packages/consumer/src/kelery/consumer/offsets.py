"""Which offsets may be committed: the at-least-once bookkeeping, kept pure.

Records finish out of order (a task publish returns at once, a DLQ copy is done
only when its delivery report arrives), but a Kafka commit says "everything
before this offset is done". So per partition the tracker keeps the offsets that
started and have not finished, and the offset it allows to commit is the lowest
of those (or one past the highest started when none is pending). A crash then
replays at most the unfinished tail: duplicates are possible, loss is not.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

PartitionKey = tuple[str, int]


@dataclass
class _Partition:
    """Pending offsets in start order (offsets arrive increasing per partition)."""

    pending: OrderedDict[int, None] = field(default_factory=OrderedDict)
    next_offset: int | None = None
    committed: int | None = None

    def commit_point(self) -> int | None:
        """The offset a commit may name now (Kafka's "next record to read")."""
        if self.pending:
            return next(iter(self.pending))
        return self.next_offset


class OffsetTracker:
    """Per-partition tracking of started/finished records and what is safe to commit."""

    def __init__(self) -> None:
        self._partitions: dict[PartitionKey, _Partition] = {}
        self._pending = 0

    @property
    def pending(self) -> int:
        """How many started records have not finished, over all partitions."""
        return self._pending

    def started(self, topic: str, partition: int, offset: int) -> None:
        """Record that the record at ``offset`` was read and its work began."""
        state = self._partitions.get((topic, partition))
        if state is None:
            state = self._partitions[(topic, partition)] = _Partition()
        if offset in state.pending:
            return
        state.pending[offset] = None
        self._pending += 1
        if state.next_offset is None or offset >= state.next_offset:
            state.next_offset = offset + 1

    def finished(self, topic: str, partition: int, offset: int) -> None:
        """Record that the work for ``offset`` is durably handed on.

        Unknown offsets (a late delivery report for a partition revoked since) are
        ignored: that partition's next owner re-reads from its last commit.
        """
        state = self._partitions.get((topic, partition))
        if state is not None and offset in state.pending:
            del state.pending[offset]
            self._pending -= 1

    def committable(self, only: set[PartitionKey] | None = None) -> dict[PartitionKey, int]:
        """Partition -> offset to commit, for partitions that advanced since the last commit."""
        result = {}
        for key, state in self._partitions.items():
            if only is not None and key not in only:
                continue
            point = state.commit_point()
            if point is not None and (state.committed is None or point > state.committed):
                result[key] = point
        return result

    def mark_committed(self, offsets: dict[PartitionKey, int]) -> None:
        """Remember that ``offsets`` were committed, so they are not committed again."""
        for key, offset in offsets.items():
            state = self._partitions.get(key)
            if state is not None:
                state.committed = offset

    def forget(self, keys: set[PartitionKey]) -> int:
        """Drop revoked partitions; return how many of their records were unfinished."""
        dropped = 0
        for key in keys:
            state = self._partitions.pop(key, None)
            if state is not None:
                dropped += len(state.pending)
        self._pending -= dropped
        return dropped
