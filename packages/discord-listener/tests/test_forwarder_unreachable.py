"""Kafka unreachable, with the real librdkafka: bounded buffering, and no silent loss.

No broker listens on the port used here, so every record either waits (in
librdkafka's queue, then in the bounded overflow), is retried after its delivery
timeout, or is given up on: logged with its uuid and counted. The test checks
that every submitted uuid is accounted for.
"""

from __future__ import annotations

import logging
import socket
import time

import pytest

from kelery.common.schemas import ChatMessage
from kelery.common.settings import KafkaSettings
from kelery.discord_listener.forwarder import Forwarder


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_kafka_buffers_retries_and_accounts_for_every_uuid(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kafka = KafkaSettings(
        bootstrap_servers=[f"127.0.0.1:{_closed_port()}"],
        delivery_timeout_ms=1000,
        request_timeout_ms=500,
        linger_ms=0,
        extra={"queue.buffering.max.messages": 2, "log_level": 0},
    )
    forwarder = Forwarder(kafka, "unreachable", overflow_limit=2, attempts=2)
    chats = [ChatMessage(content=f"m{n}", channel_id="1", source="discord") for n in range(6)]
    with caplog.at_level(logging.WARNING, logger="kelery.discord_listener.forwarder"):
        for chat in chats:
            forwarder.submit(chat)
        # two in librdkafka, two held locally, two over the bound at once
        assert forwarder.waiting == 4
        assert forwarder.stats.undeliverable == 2
        deadline = time.monotonic() + 30
        while forwarder.waiting and time.monotonic() < deadline:
            forwarder.service()
            time.sleep(0.05)
        stats = forwarder.close(timeout=1)
    assert stats.delivered == 0
    assert stats.retried >= 1
    assert stats.undeliverable == len(chats)
    assert sorted(stats.undeliverable_uuids) == sorted(c.uuid for c in chats)
    for chat in chats:
        assert f"message {chat.uuid}" in caplog.text
