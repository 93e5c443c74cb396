"""Dead-letter: what cannot be processed is republished, with why, never dropped.

A record that fails (bad bytes, bad JSON, schema mismatch, a refused command, a
post Discord rejects) is copied to ``<topic>.dlq`` with its key, value and
original headers, plus headers that say why and where it came from:

- ``kelery-error``: the reason, UTF-8
- ``kelery-origin-topic``, ``kelery-origin-partition``, ``kelery-origin-offset``
- ``kelery-failed-at``: ISO-8601 UTC time
- ``kelery-stage``: which component gave up (``consumer``, ``speaker``, …)

The caller commits the original offset only after the DLQ copy's delivery report
says it arrived (pass ``on_delivery``), so nothing is lost between the two.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from confluent_kafka import Message

DLQ_SUFFIX = ".dlq"
ERROR_HEADER = "kelery-error"
ORIGIN_TOPIC_HEADER = "kelery-origin-topic"
ORIGIN_PARTITION_HEADER = "kelery-origin-partition"
ORIGIN_OFFSET_HEADER = "kelery-origin-offset"
FAILED_AT_HEADER = "kelery-failed-at"
STAGE_HEADER = "kelery-stage"
_OURS = (
    ERROR_HEADER,
    ORIGIN_TOPIC_HEADER,
    ORIGIN_PARTITION_HEADER,
    ORIGIN_OFFSET_HEADER,
    FAILED_AT_HEADER,
    STAGE_HEADER,
)
MAX_ERROR_BYTES = 4096


class _Producer(Protocol):
    def produce(self, topic: str, *args: Any, **kwargs: Any) -> None: ...


def dlq_topic_for(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return topic + DLQ_SUFFIX


def dlq_headers(
    error: str, *, topic: str, partition: int, offset: int, stage: str
) -> list[tuple[str, bytes]]:
    """The headers that explain a dead-lettered record."""
    return [
        (ERROR_HEADER, error.encode("utf-8")[:MAX_ERROR_BYTES]),
        (ORIGIN_TOPIC_HEADER, topic.encode("utf-8")),
        (ORIGIN_PARTITION_HEADER, str(partition).encode()),
        (ORIGIN_OFFSET_HEADER, str(offset).encode()),
        (FAILED_AT_HEADER, datetime.now(UTC).isoformat().encode()),
        (STAGE_HEADER, stage.encode("utf-8")),
    ]


def dead_letter(
    producer: _Producer,
    message: Message,
    error: str,
    *,
    stage: str,
    dlq_topic: str | None = None,
    on_delivery: Callable[[Any, Message], None] | None = None,
) -> str:
    """Republish ``message`` to its DLQ topic with error and origin headers.

    Returns the DLQ topic name. Headers the record already had are kept, except
    earlier ``kelery-*`` explanations, which this one replaces.
    """
    origin_topic = message.topic() or "unknown"
    target = dlq_topic or dlq_topic_for(origin_topic)
    kept = [(k, v) for k, v in normalise_headers(message.headers()) if k not in _OURS]
    headers = kept + dlq_headers(
        error,
        topic=origin_topic,
        partition=message.partition() or 0,
        offset=message.offset() or 0,
        stage=stage,
    )
    kwargs: dict[str, Any] = {"key": message.key(), "value": message.value(), "headers": headers}
    if on_delivery is not None:
        kwargs["on_delivery"] = on_delivery
    producer.produce(target, **kwargs)
    return target


Headers = dict[str, str | bytes | None] | list[tuple[str, str | bytes | None]]


def normalise_headers(headers: Headers | None) -> list[tuple[str, bytes | None]]:
    """Headers as librdkafka's list of ``(name, bytes)``, whatever form they came in."""
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    return [(k, v.encode("utf-8") if isinstance(v, str) else v) for k, v in items]


def header_value(headers: Headers | None, name: str) -> str | None:
    """The UTF-8 text of header ``name`` (the last one wins), or None."""
    found = None
    for key, value in normalise_headers(headers):
        if key == name and value is not None:
            found = value.decode("utf-8", errors="replace")
    return found
