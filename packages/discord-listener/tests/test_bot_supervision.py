"""A failing service task stops the listener at once, and nothing waiting is lost uncounted.

The bot logs in to the devkit's fake Discord; Kafka is a stand-in producer whose
``poll`` starts failing on demand, as a broken delivery-report callback would.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from kelery.common.schemas import ChatMessage
from kelery.common.settings import KafkaSettings
from kelery.devkit.fake_discord import FakeDiscord
from kelery.discord_listener.bot import ForwarderServiceError, ListenerBot, run_listener_bot
from kelery.discord_listener.forwarder import Forwarder

from .conftest import listener_settings


class _BreakingProducer:
    """Accepts records, never reports them; ``poll`` raises once ``broken`` is set."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.broken = False
        self.queued = 0

    def produce(self, topic: str, **_: Any) -> None:
        self.queued += 1

    def poll(self, timeout: float) -> int:
        if self.broken:
            raise RuntimeError("delivery report callback blew up")
        return 0

    def flush(self, timeout: float) -> int:
        return self.queued


async def test_service_failure_stops_the_bot_and_counts_what_waits(
    fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    made: list[_BreakingProducer] = []

    def factory(config: dict[str, Any]) -> Any:
        made.append(_BreakingProducer(config))
        return made[0]

    forwarder = Forwarder(KafkaSettings(), "commands", producer_factory=factory)
    settings = listener_settings("127.0.0.1:1", "commands", fake_discord)
    stop = asyncio.Event()
    bots: list[ListenerBot] = []
    have_bot = asyncio.Event()

    def on_bot(bot: ListenerBot) -> None:
        bots.append(bot)
        have_bot.set()

    task = asyncio.create_task(run_listener_bot(settings, stop, forwarder=forwarder, on_bot=on_bot))
    async with asyncio.timeout(60):  # a safety net for a hang, not a timing assertion
        await have_bot.wait()
        await bots[0].ready_once.wait()
        chat = ChatMessage(content="!ping", channel_id="1", source="discord")
        forwarder.submit(chat)
        with caplog.at_level(logging.ERROR, logger="kelery.discord_listener"):
            made[0].broken = True
            with pytest.raises(ForwarderServiceError, match="1 message"):
                await task  # ends by itself: nobody set stop
    assert stop.is_set()
    assert forwarder.stats.undeliverable == 1
    assert forwarder.stats.undeliverable_uuids == [chat.uuid]
    assert forwarder.waiting == 0
    assert "serving Kafka delivery reports failed" in caplog.text
    assert f"message {chat.uuid}" in caplog.text
