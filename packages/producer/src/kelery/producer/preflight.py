"""Check the cluster answers before producing, so a wrong address fails fast.

librdkafka never refuses a ``produce`` because the broker is down: it queues the
record and retries until ``delivery.timeout.ms`` (two minutes by default). A
typo in ``KAFKA_BOOTSTRAP_SERVERS`` would look like a hang. Asking for the
topic's metadata with a timeout turns that into one clear error at start.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError

from kelery.common.errors import KeleryError
from kelery.common.reachability import KafkaUnreachableError, require_cluster

__all__ = ["KafkaUnreachableError", "TopicRefusedError", "check_cluster"]

log = logging.getLogger(__name__)

_TOPIC_FATAL = frozenset({KafkaError.TOPIC_EXCEPTION, KafkaError.TOPIC_AUTHORIZATION_FAILED})


class TopicRefusedError(KeleryError):
    """The cluster answered but will never accept records for this topic."""


def check_cluster(producer: Any, topic: str, *, bootstrap: str, timeout: float) -> None:
    """Raise a KeleryError a person can act on unless ``topic`` on the cluster can take records.

    A topic that does not exist yet is fine: brokers with auto-creation make it
    on the first record, and otherwise its records fail with a delivery error.
    """
    metadata = require_cluster(
        producer,
        bootstrap,
        timeout=timeout,
        timeout_setting="PRODUCER_CONNECT_TIMEOUT",
        topic=topic,
    )
    info = metadata.topics.get(topic)
    error = None if info is None else info.error
    if error is None:
        return
    if error.code() in _TOPIC_FATAL:
        raise TopicRefusedError(f"topic {topic!r} cannot be written: {error.str()}")
    log.info("topic %s: %s (it is created on first write if the broker allows)", topic, error.str())
