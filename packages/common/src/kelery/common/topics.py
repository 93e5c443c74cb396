"""Create the topics Kelery needs, safely from any number of processes at once.

:func:`ensure_topics` creates what is missing and treats "already exists" as
success, so two processes racing to create the same topic both succeed, and a
topic that exists with other settings is left alone (changing partitions of a
live topic re-keys it: that is an operator's decision, not a start-up side effect).

A topic it created is also *writable* when it returns: the broker acknowledges
CreateTopics before its partitions have leaders, and for a moment after answers
``NOT_LEADER_FOR_PARTITION``. librdkafka's idempotent producer retries those
writes, but can lose a record while it recovers, with no delivery error (seen
with librdkafka 2.16 on Kafka 4.1: 1 to 3 of 5,000 records written into a new
12-partition topic, in about 1 run in 20). So :func:`ensure_topics` waits until
every new partition's leader answers a ListOffsets request before anyone
produces to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec  # type: ignore[attr-defined]

from kelery.common.kafka_config import client_config
from kelery.common.settings import KafkaSettings

log = logging.getLogger(__name__)

READY_POLL_S = 0.02
LATEST = OffsetSpec.latest()  # type: ignore[no-untyped-call]
EARLIEST = OffsetSpec.earliest()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create if missing: name, partitions, replication factor, topic config."""

    name: str
    partitions: int = 1
    replication_factor: int = -1  # -1: the broker's default.replication.factor
    config: dict[str, str] = field(default_factory=dict)


def ensure_topics(
    admin: AdminClient | KafkaSettings,
    specs: Iterable[TopicSpec | str],
    *,
    timeout: float = 30.0,
) -> list[str]:
    """Create each missing topic; return the names this call created.

    Raises KafkaException for failures other than "already exists".
    """
    client = (
        AdminClient(client_config(admin, "admin")) if isinstance(admin, KafkaSettings) else admin
    )
    wanted = [TopicSpec(s) if isinstance(s, str) else s for s in specs]
    if not wanted:
        return []
    existing = set(client.list_topics(timeout=timeout).topics)
    missing = [s for s in wanted if s.name not in existing]
    if not missing:
        return []
    futures = client.create_topics(
        [
            NewTopic(
                s.name,
                num_partitions=s.partitions,
                replication_factor=s.replication_factor,
                config=dict(s.config),
            )
            for s in missing
        ],
        request_timeout=timeout,
        operation_timeout=timeout,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise
        created.append(name)
        log.info("created topic %s", name)
    partitions = {s.name: s.partitions for s in missing if s.name in created}
    not_ready = wait_writable(client, partitions, timeout=timeout)
    if not_ready:
        log.warning(
            "%d new partition(s) had no leader after %.0f s (first: %s[%d]); writes to them "
            "wait for librdkafka's retries",
            len(not_ready),
            timeout,
            not_ready[0].topic,
            not_ready[0].partition,
        )
    return created


def wait_writable(
    client: AdminClient, topics: dict[str, int], *, timeout: float
) -> list[TopicPartition]:
    """Wait until the leader of every partition of ``topics`` (name -> count) answers.

    A ListOffsets request succeeds only at a partition's leader, so success on
    every partition means a produce will not meet ``NOT_LEADER_FOR_PARTITION``.
    Returns the partitions still not answering at ``timeout`` (empty: all ready).
    """
    pending = [TopicPartition(name, p) for name, count in topics.items() for p in range(count)]
    deadline = time.monotonic() + timeout
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        futures = client.list_offsets(
            dict.fromkeys(pending, LATEST), request_timeout=max(1.0, remaining)
        )
        failed = []
        for tp, future in futures.items():
            try:
                future.result(timeout=max(1.0, remaining))
            except KafkaException:
                failed.append(TopicPartition(tp.topic, tp.partition))
        pending = failed
        if pending:
            time.sleep(READY_POLL_S)
    return pending


def partition_offsets(
    client: AdminClient, topic: str, partitions: Iterable[int], spec: OffsetSpec, *, timeout: float
) -> dict[int, int]:
    """Partition -> offset at ``spec`` (:data:`LATEST` or :data:`EARLIEST`), from each leader.

    Raises KafkaException if a partition's leader does not answer.
    """
    futures = client.list_offsets(
        {TopicPartition(topic, p): spec for p in partitions}, request_timeout=timeout
    )
    return {tp.partition: int(future.result().offset) for tp, future in futures.items()}
