"""DeliveryCount: successes counted locally, failures go through the shared tracker."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError

from kelery.common.delivery import DeliveryTracker
from kelery.producer.run import DeliveryCount


class FakeMessage:
    def topic(self) -> str:
        return "t"

    def key(self) -> bytes:
        return b"k"


def test_counts_successes_and_hands_failures_to_the_tracker() -> None:
    tracker = DeliveryTracker()
    count = DeliveryCount(tracker)
    message: Any = FakeMessage()
    count(None, message)
    count(None, message)
    count(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), message)
    assert (count.delivered, tracker.delivered, tracker.failed) == (2, 0, 1)
    assert "t:" in tracker.errors[0]


def test_a_fatal_producer_error_stops_the_run_and_is_reported() -> None:
    from kelery.common.runtime import GracefulShutdown
    from kelery.producer.run import ErrorWatch

    stop = GracefulShutdown()
    watch = ErrorWatch(stop)
    watch(KafkaError(KafkaError._TRANSPORT, "broker went away"))
    assert not stop.event.is_set()
    watch(KafkaError(KafkaError._FATAL, "producer fenced", fatal=True))
    assert stop.event.is_set()
    assert stop.signal_name == "fatal producer error (_FATAL)"
    assert watch.fatal == ["fatal: producer fenced"]
