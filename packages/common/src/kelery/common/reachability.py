"""One start-up question every Kelery process asks: does the Kafka cluster answer?

librdkafka never fails a client because no broker is up: it queues and retries
quietly, so a typo in ``KAFKA_BOOTSTRAP_SERVERS`` would look like a hang (the
producer's records expire after ``delivery.timeout.ms``, a consumer simply waits).
Each component therefore asks for metadata once at start, with a timeout, and a
cluster that does not answer becomes one error naming the brokers, the setting
that lists them and the setting that bounds the wait.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, KafkaException

from kelery.common.errors import KeleryError

BROKERS_SETTING = "KAFKA_BOOTSTRAP_SERVERS"


class KafkaUnreachableError(KeleryError):
    """No broker of the cluster answered a metadata request within the start-up timeout."""


def require_cluster(
    client: Any,
    bootstrap: str,
    *,
    timeout: float,
    timeout_setting: str | None = None,
    topic: str | None = None,
) -> Any:
    """The cluster's metadata (``topic``'s only, if given), or KafkaUnreachableError.

    ``client`` is any confluent-kafka client (Producer, Consumer, AdminClient):
    all of them answer ``list_topics``. ``timeout_setting`` names the variable
    that set ``timeout``, so the message says what to change.
    """
    try:
        return client.list_topics(topic=topic, timeout=timeout)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        reason = error.str() if isinstance(error, KafkaError) else str(exc)
        bound = f"{timeout:g} s" + (f" ({timeout_setting})" if timeout_setting else "")
        raise KafkaUnreachableError(
            f"cannot reach Kafka at {bootstrap} ({BROKERS_SETTING}) within {bound}: {reason}"
        ) from None
