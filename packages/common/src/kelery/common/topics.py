"""Create the topics Kelery needs, safely from any number of processes at once.

:func:`ensure_topics` creates what is missing and treats "already exists" as
success, so two processes racing to create the same topic both succeed, and a
topic that exists with other settings is left alone (changing partitions of a
live topic re-keys it: that is an operator's decision, not a start-up side effect).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from kelery.common.kafka_config import client_config
from kelery.common.settings import KafkaSettings

log = logging.getLogger(__name__)


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
    return created
