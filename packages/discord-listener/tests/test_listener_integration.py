"""The real listener bot against the fake Discord and the real Kafka broker."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import Message

from kelery.common.schemas import decode_chat_message
from kelery.devkit.fake_discord import FakeDiscord
from kelery.devkit.pytest_plugin import TopicFactory

from .conftest import listener_settings, running_listener

pytestmark = pytest.mark.integration


def _contents(records: list[Message]) -> list[str]:
    return [decode_chat_message(r.value()).content for r in records]


def _has(content: str) -> Any:
    return lambda records: content in _contents(records)


async def test_forwards_people_in_allowed_channels_only(
    kafka: str, topic_factory: TopicFactory, fake_discord: FakeDiscord, topic_reader: Any
) -> None:
    topic = topic_factory(1)
    general, random_ = fake_discord.channel_id("general"), fake_discord.channel_id("random")
    settings = listener_settings(
        kafka,
        topic,
        fake_discord,
        discord={"channels": [general, random_], "announcement_channel_id": general},
        listener_announce=True,
    )
    reader = topic_reader(topic)
    async with running_listener(settings) as listener:
        announcement = await fake_discord.wait_for_posts_async("general", 1)
        assert announcement[0].content == settings.listener_announce_text
        sent = fake_discord.inject_message("general", "!remind 10m stretch", author="alice")
        fake_discord.inject_message("general", "beep, I am a bot", author="robo", bot=True)
        fake_discord.inject_message("announcements", "not an allowed channel", author="alice")
        fake_discord.inject_message("random", "marker", author="bob")
        records = await reader.until(_has("marker"))
        stats = await listener.finish()
    # One partition: everything forwarded before the marker is here, in order. The
    # listener's own announcement, the bot's line and the other channel are not.
    assert _contents(records) == ["!remind 10m stretch", "marker"]
    first = records[0]
    assert first.key() == str(general).encode()
    chat = decode_chat_message(first.value())
    assert chat.source == "discord"
    assert chat.channel_id == str(general)
    assert chat.guild_id == str(fake_discord.guild_id)
    assert chat.message_id == str(sent.id)
    assert chat.author_id == str(sent.author.id)
    assert chat.author_name == "alice"
    assert dict(first.headers() or [])["kelery-uuid"] == chat.uuid.encode()
    assert records[1].key() == str(random_).encode()
    assert (stats.submitted, stats.delivered, stats.undeliverable) == (2, 2, 0)


async def test_keeps_forwarding_after_the_gateway_drops(
    kafka: str, topic_factory: TopicFactory, fake_discord: FakeDiscord, topic_reader: Any
) -> None:
    topic = topic_factory(1)
    settings = listener_settings(kafka, topic, fake_discord)
    reader = topic_reader(topic)
    async with running_listener(settings) as listener:
        fake_discord.inject_message("general", "before the drop")
        await reader.until(_has("before the drop"))
        fake_discord.drop_gateway()
        fake_discord.inject_message("general", "while reconnecting")
        await fake_discord.wait_for_gateway_async("resume", 1)
        fake_discord.inject_message("general", "after resume")
        await reader.until(_has("after resume"))
        fake_discord.drop_gateway(invalidate=True)
        await fake_discord.wait_for_gateway_async("identify", 2)
        fake_discord.inject_message("general", "after a fresh identify")
        records = await reader.until(_has("after a fresh identify"))
        stats = await listener.finish()
    # RESUME replays what was sent while the connection was down, so nothing is lost
    # and one channel's order holds.
    assert _contents(records) == [
        "before the drop",
        "while reconnecting",
        "after resume",
        "after a fresh identify",
    ]
    assert stats.undeliverable == 0
