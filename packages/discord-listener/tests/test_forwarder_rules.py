"""The forwarder's bookkeeping: overflow order, bounds, retries, never a silent drop.

A stand-in producer (pure logic; the real librdkafka is exercised in
test_forwarder_kafka.py and the integration tests) lets each case decide when
librdkafka's queue is full and what each delivery report says.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError

from kelery.common.schemas import ChatMessage
from kelery.common.settings import KafkaSettings
from kelery.discord_listener.forwarder import Forwarder

Report = Callable[[KafkaError | None, Any], None]


class _Producer:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.room = 1000
        self.queued: list[tuple[bytes, Report]] = []
        self.produced: list[bytes] = []

    def produce(
        self, topic: str, *, value: bytes, key: bytes, headers: Any, on_delivery: Report
    ) -> None:
        if len(self.queued) >= self.room:
            raise BufferError("queue full")
        self.queued.append((key, on_delivery))
        self.produced.append(value)

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return len(self.queued)

    def report(self, error: KafkaError | None = None) -> None:
        _, callback = self.queued.pop(0)
        callback(error, None)


def _forwarder(**kwargs: Any) -> tuple[Forwarder, _Producer]:
    made: list[_Producer] = []

    def factory(config: dict[str, Any]) -> Any:
        made.append(_Producer(config))
        return made[0]

    forwarder = Forwarder(KafkaSettings(), "commands", producer_factory=factory, **kwargs)
    return forwarder, made[0]


def _chat(n: int) -> ChatMessage:
    return ChatMessage(content=f"m{n}", channel_id="100", source="discord")


def test_producer_config_is_idempotent_acks_all() -> None:
    _, producer = _forwarder()
    assert producer.config["enable.idempotence"] is True
    assert producer.config["acks"] == "all"


def test_producer_sends_each_message_at_once() -> None:
    # someone waits on every chat message: librdkafka's 5 ms linger would only add to that
    _, producer = _forwarder()
    assert producer.config["linger.ms"] == 0


def test_full_queue_spills_to_overflow_in_order_and_drains() -> None:
    forwarder, producer = _forwarder(overflow_limit=10)
    producer.room = 2
    chats = [_chat(n) for n in range(5)]
    for chat in chats:
        forwarder.submit(chat)
    assert forwarder.waiting == 5
    assert len(producer.queued) == 2
    for _ in range(2):
        producer.report()
    forwarder.service()
    for _ in range(2):
        producer.report()
    forwarder.service()
    producer.report()
    order = [ChatMessage.from_json_bytes(v).content for v in producer.produced]
    assert order == ["m0", "m1", "m2", "m3", "m4"]
    assert forwarder.stats.delivered == 5
    assert forwarder.waiting == 0


def test_beyond_the_bound_is_logged_with_uuid_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    forwarder, producer = _forwarder(overflow_limit=1)
    producer.room = 1
    chats = [_chat(n) for n in range(3)]
    with caplog.at_level(logging.ERROR):
        for chat in chats:
            forwarder.submit(chat)
    assert forwarder.stats.undeliverable == 1
    assert forwarder.stats.undeliverable_uuids == [chats[2].uuid]
    assert chats[2].uuid in caplog.text


def test_retriable_failure_is_retried_then_given_up(caplog: pytest.LogCaptureFixture) -> None:
    forwarder, producer = _forwarder(attempts=2)
    chat = _chat(1)
    forwarder.submit(chat)
    timeout = KafkaError(KafkaError._MSG_TIMED_OUT)
    producer.report(timeout)
    forwarder.service()
    assert forwarder.stats.retried == 1
    assert len(producer.produced) == 2
    with caplog.at_level(logging.ERROR):
        producer.report(timeout)
    assert forwarder.stats.undeliverable == 1
    assert chat.uuid in caplog.text
    assert forwarder.waiting == 0


def test_close_gives_up_on_what_is_still_waiting() -> None:
    forwarder, producer = _forwarder(overflow_limit=5)
    producer.room = 1
    chats = [_chat(n) for n in range(3)]
    for chat in chats:
        forwarder.submit(chat)
    stats = forwarder.close(timeout=0.05)
    assert stats.undeliverable == 3
    assert sorted(stats.undeliverable_uuids) == sorted(c.uuid for c in chats)
