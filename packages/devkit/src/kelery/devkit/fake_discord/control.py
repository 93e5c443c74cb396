"""The handle tests and the test API use to drive a running fake Discord.

Every method is safe to call from any thread, including an asyncio test whose loop
runs the bot under test: world changes go through the state's lock, and gateway
work is handed to the server's own loop with ``call_soon_threadsafe`` (never
awaited), so a call never blocks the caller's loop. Calls made in order take
effect in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from kelery.devkit.fake_discord.gateway import Gateway
from kelery.devkit.fake_discord.rest import API_PREFIX
from kelery.devkit.fake_discord.state import Channel, FakeDiscordState, Message, PostRecord, User


class FakeDiscord:
    """A running fake Discord: URLs, channels, and the controls tests need."""

    def __init__(
        self,
        state: FakeDiscordState,
        gateway: Gateway,
        loop: asyncio.AbstractEventLoop,
        base_url: str,
    ) -> None:
        self.state = state
        self.gateway = gateway
        self._loop = loop
        self.base_url = base_url.rstrip("/")

    # -- where it is --------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        """The REST base a bot uses (``DISCORD_API_BASE``), e.g. http://127.0.0.1:PORT/api/v10."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """The websocket URL ``GET /gateway`` hands out."""
        return self.base_url.replace("http://", "ws://", 1) + "/gateway"

    @property
    def guild_id(self) -> int:
        """The one guild's id."""
        return self.state.guild.id

    @property
    def channels(self) -> list[Channel]:
        """Every channel of the guild (``general``, ``random``, ``announcements`` by default)."""
        return self.state.channels

    def channel(self, key: int | str) -> Channel:
        """A channel by name or id."""
        return self.state.channel(key)

    def channel_id(self, name: str) -> int:
        """A channel's id by name."""
        return self.state.channel(name).id

    @property
    def bots(self) -> list[User]:
        """Every bot user that has logged in (one per token)."""
        return self.state.bots

    # -- driving it ---------------------------------------------------------------------

    def _in_loop(self, call: Callable[[], Any]) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            call()
        else:
            self._loop.call_soon_threadsafe(call)

    def inject_message(
        self, channel_id: int | str, content: str, *, author: str = "alice", bot: bool = False
    ) -> Message:
        """A user (or another bot, with ``bot=True``) says ``content`` in a channel.

        The message is stored at once and MESSAGE_CREATE is dispatched to every
        connected bot (or kept for its RESUME if it is disconnected).
        """
        channel = self.state.channel(channel_id)
        user = self.state.person(author, bot=bot)
        message = self.state.add_message(channel.id, user, content)
        self._in_loop(lambda: self.gateway.dispatch_message(message))
        return message

    def posts(self, channel_id: int | str) -> list[PostRecord]:
        """What bots have posted to a channel (each with its whole request payload)."""
        return self.state.posts(self.state.channel(channel_id).id)

    def messages(self, channel_id: int | str) -> list[Message]:
        """Every message in a channel, injected or posted, oldest first."""
        return self.state.messages(self.state.channel(channel_id).id)

    def wait_for_posts(
        self, channel_id: int | str, count: int, timeout: float = 30.0
    ) -> list[PostRecord]:
        """Block until a channel has at least ``count`` posts; raises TimeoutError otherwise."""
        cid = self.state.channel(channel_id).id
        if not self.state.wait_until(lambda: len(self.state.posts(cid)) >= count, timeout):
            have = len(self.state.posts(cid))
            raise TimeoutError(f"channel {cid} has {have} posts, expected {count} in {timeout}s")
        return self.state.posts(cid)

    async def wait_for_posts_async(
        self, channel_id: int | str, count: int, deadline_s: float = 30.0
    ) -> list[PostRecord]:
        """:meth:`wait_for_posts` for async tests: polls without blocking the loop."""
        cid = self.state.channel(channel_id).id
        deadline = time.monotonic() + deadline_s
        while len(posts := self.state.posts(cid)) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"channel {cid} has {len(posts)} posts, expected {count}")
            await asyncio.sleep(0.02)
        return posts

    def fail_next(
        self,
        count: int,
        status: int,
        *,
        retry_after: float = 1.0,
        channel_id: int | str | None = None,
    ) -> None:
        """The next ``count`` message posts (to one channel, or any) answer ``status``.

        429 answers carry ``retry_after`` seconds as Discord's do; 403 is "Missing
        Access", 404 "Unknown Channel".
        """
        cid = None if channel_id is None else self.state.channel(channel_id).id
        self.state.fail_next(count, status, retry_after=retry_after, channel_id=cid)

    def drop_gateway(self, *, invalidate: bool = False) -> None:
        """Close every gateway connection so bots reconnect (and RESUME, unless ``invalidate``)."""
        self._in_loop(lambda: self.gateway.drop(invalidate=invalidate))

    def connections(self, what: str = "identify") -> int:
        """How many IDENTIFYs (or ``"resume"``s, ``"invalid"`` sessions) the gateway has seen."""
        return self.gateway.count(what)

    def wait_for_gateway(
        self, what: str = "identify", at_least: int = 1, timeout: float = 30.0
    ) -> None:
        """Block until the gateway counted ``at_least`` of ``what``; TimeoutError otherwise."""
        if not self.gateway.wait_count(what, at_least, timeout):
            raise TimeoutError(f"gateway saw {self.gateway.count(what)} {what}, wanted {at_least}")

    async def wait_for_gateway_async(
        self, what: str = "identify", at_least: int = 1, deadline_s: float = 30.0
    ) -> None:
        """:meth:`wait_for_gateway` for async tests."""
        deadline = time.monotonic() + deadline_s
        while self.gateway.count(what) < at_least:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"gateway saw {self.gateway.count(what)} {what}, wanted {at_least}"
                )
            await asyncio.sleep(0.02)
