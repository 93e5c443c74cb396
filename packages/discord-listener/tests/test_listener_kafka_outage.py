"""Kafka unreachable when messages arrive, reachable later: they are held, then delivered.

The listener's bootstrap address is a local port where, at first, nothing listens.
Messages arrive from the fake Discord and wait in the producer. Then a plain TCP
relay opens on that port towards the real broker; librdkafka's reconnect finds it,
learns the broker's own address from the metadata, and delivers what waited, in
order. Nothing is faked: the relay only forwards bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kelery.common.schemas import decode_chat_message
from kelery.common.settings import KafkaSettings
from kelery.devkit.fake_discord import FakeDiscord
from kelery.devkit.pytest_plugin import TopicFactory

from .conftest import listener_settings, running_listener

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def _relay(port: int, target: str) -> AsyncIterator[None]:
    host, _, target_port = target.rpartition(":")

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        broker_r, broker_w = await asyncio.open_connection(host, int(target_port))
        await asyncio.gather(_pipe(client_r, broker_w), _pipe(broker_r, client_w))

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()


async def test_messages_wait_for_kafka_and_arrive_in_order(
    kafka: str, topic_factory: TopicFactory, fake_discord: FakeDiscord, topic_reader: Any
) -> None:
    topic = topic_factory(1)
    port = _free_port()
    settings = listener_settings(kafka, topic, fake_discord)
    settings = settings.model_copy(
        update={
            "kafka": KafkaSettings(
                bootstrap_servers=[f"127.0.0.1:{port}"],
                extra={"reconnect.backoff.max.ms": 500, "log_level": 0},
            )
        }
    )
    reader = topic_reader(topic)
    async with running_listener(settings) as listener:
        for n in range(3):
            fake_discord.inject_message("general", f"queued {n}")
        forwarder = listener.bot.forwarder
        async with asyncio.timeout(30):
            while forwarder.stats.submitted < 3:  # noqa: ASYNC110 - a counter, not an event
                await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # Kafka stays away for a while
        assert forwarder.waiting == 3
        assert forwarder.stats.delivered == 0
        async with _relay(port, kafka):
            records = await reader.until(lambda got: len(got) >= 3)
            stats = await listener.finish()
    assert [decode_chat_message(r.value()).content for r in records] == [
        "queued 0",
        "queued 1",
        "queued 2",
    ]
    assert (stats.delivered, stats.undeliverable) == (3, 0)
