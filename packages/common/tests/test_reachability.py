"""The one start-up check: a cluster that does not answer is one clear error."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from kelery.common.errors import KeleryError
from kelery.common.reachability import KafkaUnreachableError, require_cluster


class _Client:
    """Stands in for any confluent-kafka client: only ``list_topics`` is asked."""

    def __init__(self, error: KafkaException | None = None) -> None:
        self.error = error
        self.asked: list[tuple[str | None, float]] = []

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> str:
        self.asked.append((topic, timeout))
        if self.error is not None:
            raise self.error
        return "metadata"


def test_an_answering_cluster_returns_its_metadata() -> None:
    client = _Client()
    assert require_cluster(client, "b:9092", timeout=3, topic="t") == "metadata"
    assert client.asked == [("t", 3)]


def test_no_answer_names_the_brokers_both_settings_and_librdkafkas_reason() -> None:
    client = _Client(KafkaException(KafkaError(KafkaError._TRANSPORT, "all brokers down")))
    with pytest.raises(KafkaUnreachableError) as caught:
        require_cluster(client, "b1:9092,b2:9092", timeout=2.5, timeout_setting="X_TIMEOUT")
    assert str(caught.value) == (
        "cannot reach Kafka at b1:9092,b2:9092 (KAFKA_BOOTSTRAP_SERVERS) within 2.5 s "
        "(X_TIMEOUT): all brokers down"
    )
    assert isinstance(caught.value, KeleryError)


def test_a_plain_kafka_exception_still_gives_its_text() -> None:
    with pytest.raises(KafkaUnreachableError, match=r"within 1 s: no brokers$"):
        require_cluster(_Client(KafkaException("no brokers")), "b:1", timeout=1)
