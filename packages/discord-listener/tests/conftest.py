"""Shared pieces of the listener's integration tests: settings, a running bot, a topic reader.

The bot runs on the test's own event loop (as in production: one loop for the
client and the forwarder's service task); reading Kafka happens on a worker
thread so the bot never stalls while a test waits for records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import Consumer, Message

from kelery.common.kafka_config import client_config
from kelery.common.settings import DiscordSettings, KafkaSettings, load_settings
from kelery.devkit.fake_discord import FakeDiscord
from kelery.discord_listener.bot import ListenerBot, run_listener_bot
from kelery.discord_listener.forwarder import ForwarderStats
from kelery.discord_listener.settings import ListenerSettings


@pytest.fixture(autouse=True)
def _listener_loggers_enabled() -> None:
    """Undo ``dictConfig``'s ``disable_existing_loggers`` left by another package's tests.

    Our tests assert on log lines (an undeliverable uuid must be logged); a logging
    test elsewhere in the same session may have disabled every logger that existed.
    """
    for name, logger in logging.root.manager.loggerDict.items():
        if name.startswith("kelery.discord_listener") and isinstance(logger, logging.Logger):
            logger.disabled = False


def listener_settings(
    kafka: str, topic: str, fake: FakeDiscord, **changes: Any
) -> ListenerSettings:
    """Settings for a listener against ``fake`` and the test broker."""
    discord = {"api_base": fake.api_base, "token": "listener-token"}
    discord.update(changes.pop("discord", {}))
    return load_settings(
        ListenerSettings,
        kafka=KafkaSettings(bootstrap_servers=[kafka]),
        discord=DiscordSettings(**discord),
        commands_topic=topic,
        **changes,
    )


@dataclass
class RunningListener:
    """A listener bot running in the test's loop."""

    bot: ListenerBot
    stop: asyncio.Event
    task: asyncio.Task[ForwarderStats]

    async def finish(self) -> ForwarderStats:
        """Stop it the way SIGTERM does and return its final counters."""
        self.stop.set()
        return await self.task


@contextlib.asynccontextmanager
async def running_listener(settings: ListenerSettings) -> AsyncIterator[RunningListener]:
    """Start the listener and wait until nextcord says it is ready; always stop it."""
    stop = asyncio.Event()
    made: list[ListenerBot] = []
    have_bot = asyncio.Event()

    def on_bot(bot: ListenerBot) -> None:
        made.append(bot)
        have_bot.set()

    task = asyncio.create_task(run_listener_bot(settings, stop, on_bot=on_bot))
    try:
        async with asyncio.timeout(60):
            await have_bot.wait()
            ready = asyncio.create_task(made[0].ready_once.wait())
            await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                ready.cancel()
                await task  # raises why it ended
        yield RunningListener(made[0], stop, task)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await task


class TopicReader:
    """Reads a topic from the beginning on a worker thread."""

    def __init__(self, kafka: str, topic: str, group: str) -> None:
        config = client_config(KafkaSettings(bootstrap_servers=[kafka]), "consumer", group_id=group)
        self._consumer = Consumer(config)
        self._consumer.subscribe([topic])
        self.records: list[Message] = []

    async def until(
        self, done: Callable[[list[Message]], bool], deadline_s: float = 60
    ) -> list[Message]:
        """Poll until ``done(records)`` is true; TimeoutError after ``deadline_s``."""
        async with asyncio.timeout(deadline_s):
            while not done(self.records):
                message = await asyncio.to_thread(self._consumer.poll, 0.2)
                if message is None:
                    continue
                assert message.error() is None, message.error()
                self.records.append(message)
        return self.records

    def close(self) -> None:
        """Leave the group."""
        self._consumer.close()


@pytest.fixture
def topic_reader(kafka: str, request: pytest.FixtureRequest) -> Any:
    """A factory of TopicReaders, closed at the end of the test."""
    readers: list[TopicReader] = []

    def make(topic: str) -> TopicReader:
        reader = TopicReader(
            kafka, topic, f"reader-{request.node.name}-{id(readers)}-{len(readers)}"
        )
        readers.append(reader)
        return reader

    yield make
    for reader in readers:
        reader.close()
