"""A real nextcord client against the fake Discord: log in, receive, post, reconnect, 429."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import nextcord
import nextcord.http
import pytest

from kelery.devkit.fake_discord import FakeDiscord


class _Recorder(nextcord.Client):
    """A client that queues every message it sees."""

    def __init__(self) -> None:
        intents = nextcord.Intents.none()
        intents.guilds = intents.guild_messages = intents.message_content = True
        super().__init__(intents=intents, guild_ready_timeout=0.2)
        self.seen: asyncio.Queue[nextcord.Message] = asyncio.Queue()
        self.ready = asyncio.Event()

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_message(self, message: nextcord.Message) -> None:
        await self.seen.put(message)


@pytest.fixture
async def client(fake_discord: FakeDiscord) -> AsyncIterator[_Recorder]:
    nextcord.http.Route.BASE = fake_discord.api_base
    recorder = _Recorder()
    task = asyncio.create_task(recorder.start("fake-token"))
    try:
        async with asyncio.timeout(30):
            await recorder.ready.wait()
        yield recorder
    finally:
        await recorder.close()
        await task


@pytest.fixture
def collect_dropped_sockets() -> Iterator[None]:
    """After the fake and the client stopped: finalise sockets a dropped gateway left behind.

    Once in a full CI run, a socket of a gateway connection this test drops (client
    or server side; not pinned down yet) was garbage-collected unclosed during the
    next test's setup, and its ResourceWarning failed that test. Collected here,
    right after this test, it can neither leak nor fail a test that has nothing to
    do with it. Requested first, so it is torn down last.
    """
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


async def _next(client: _Recorder) -> Any:
    async with asyncio.timeout(30):
        return await client.seen.get()


async def test_nextcord_logs_in_receives_and_posts(
    fake_discord: FakeDiscord, client: _Recorder
) -> None:
    assert client.user is not None
    assert {c.name for c in client.get_all_channels()} == {"general", "random", "announcements"}
    fake_discord.inject_message("general", "hello bot", author="carol")
    message = await _next(client)
    assert (message.content, message.author.name, message.author.bot) == (
        "hello bot",
        "carol",
        False,
    )
    assert message.guild is not None
    assert message.guild.id == fake_discord.guild_id
    await message.channel.send(
        "@everyone hi", allowed_mentions=nextcord.AllowedMentions.none(), nonce="n-1"
    )
    [post] = fake_discord.posts("general")
    assert post.content == "@everyone hi"
    assert post.nonce == "n-1"
    assert not post.pings.anyone
    echoed = await _next(client)  # Discord dispatches the bot's own post back to it
    assert echoed.author == client.user


async def test_nextcord_resumes_after_drop_and_misses_nothing(
    collect_dropped_sockets: None, fake_discord: FakeDiscord, client: _Recorder
) -> None:
    fake_discord.drop_gateway()
    fake_discord.inject_message("random", "sent while dropped")
    await fake_discord.wait_for_gateway_async("resume", 1)
    assert (await _next(client)).content == "sent while dropped"
    fake_discord.drop_gateway(invalidate=True)
    await fake_discord.wait_for_gateway_async("identify", 2)
    fake_discord.inject_message("random", "after a fresh identify")
    assert (await _next(client)).content == "after a fresh identify"


async def test_nextcord_waits_out_a_429_and_the_post_lands_once(
    fake_discord: FakeDiscord, client: _Recorder
) -> None:
    fake_discord.fail_next(2, 429, retry_after=0.05)
    channel = client.get_channel(fake_discord.channel_id("general"))
    assert isinstance(channel, nextcord.TextChannel)
    await channel.send("patient")
    assert [p.content for p in fake_discord.posts("general")] == ["patient"]
    assert [a.status for a in fake_discord.state.attempts()] == [429, 429, 200]
    fake_discord.fail_next(1, 403)
    with pytest.raises(nextcord.Forbidden):
        await channel.send("not allowed")
