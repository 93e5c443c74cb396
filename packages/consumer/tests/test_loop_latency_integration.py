"""The consume loop on the real broker hands a lone record over as it arrives.

A chat command is one record on an idle topic; reading it must not wait for a
batch to fill. With ``consume(500, timeout)`` the loop held such a record for up
to its whole poll timeout (half a second by default, on every command).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Message

from kelery.common.kafka_config import client_config
from kelery.common.schemas import ChatMessage
from kelery.common.settings import KafkaSettings
from kelery.consumer.decide import Decider, Decision
from kelery.consumer.dispatch import Done, DryRunDispatcher
from kelery.consumer.loop import ConsumeLoop, LoopOptions
from kelery.consumer.metrics import ConsumerStats
from kelery.consumer.routing import RoutingTable

from .conftest import produce, wait_for

pytestmark = pytest.mark.integration

POLL_TIMEOUT_S = 3.0


class _TimingDispatcher(DryRunDispatcher):
    """kelery-consume's ``--dry-run`` dispatcher, noting when each record was dispatched."""

    def __init__(self) -> None:
        super().__init__(ConsumerStats(), out=None)
        self.dispatched: list[float] = []

    def dispatch(self, decision: Decision, record: Message, done: Done) -> None:
        self.dispatched.append(time.monotonic())
        super().dispatch(decision, record, done)


class _Stop:
    def __init__(self) -> None:
        self._event = threading.Event()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def set(self) -> None:
        self._event.set()


def test_a_lone_record_is_dispatched_at_once_not_when_the_poll_timeout_ends(
    kafka: str, topic_factory: Callable[..., str]
) -> None:
    topic = topic_factory()
    settings = KafkaSettings(bootstrap_servers=[kafka])
    consumer = Consumer(
        client_config(settings, "consumer", group_id=f"latency-{uuid.uuid4().hex[:8]}")
    )
    dispatcher = _TimingDispatcher()
    loop = ConsumeLoop(
        consumer,
        Decider(RoutingTable.default(), default_queue="kelery"),
        dispatcher,
        LoopOptions(topics=[topic], poll_timeout_s=POLL_TIMEOUT_S),
    )
    stop = _Stop()
    runner = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    runner.start()
    try:
        command = ChatMessage(content="!ping", channel_id="1").to_json_bytes()
        produce(kafka, topic, [command])  # the first: the group is joined, fetching runs
        wait_for(lambda: len(dispatcher.dispatched) == 1, "the first record dispatched")
        time.sleep(0.5)  # the loop is back in its poll, waiting on an idle partition
        produce(kafka, topic, [command])
        acked = time.monotonic()
        wait_for(lambda: len(dispatcher.dispatched) == 2, "the second record dispatched")
    finally:
        stop.set()
        runner.join(POLL_TIMEOUT_S + 30)
    waited = dispatcher.dispatched[1] - acked
    assert waited < 1.0, f"the record waited {waited:.2f} s in the loop's read"
