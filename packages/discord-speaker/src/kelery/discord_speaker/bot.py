"""The nextcord side: log in, hold a gateway session, and run the speaker beside it.

Discord wants a bot to have connected to the gateway before it may post, so the
speaker starts consuming only once the gateway session is READY; the posts themselves go
through the client's HTTP session (see :mod:`kelery.discord_speaker.poster`).
The client asks for the guilds intent only, with application-command rollout
switched off: the speaker owns no commands, and a rollout could otherwise
delete commands another bot of the same application registered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kelery.common.errors import KeleryError
from kelery.discord_speaker._nextcord import Route, nextcord
from kelery.discord_speaker.poster import send_post
from kelery.discord_speaker.posts import PlannedPost
from kelery.discord_speaker.settings import SpeakerSettings
from kelery.discord_speaker.speaker import PostFn, Speaker, SpeakerStats

log = logging.getLogger(__name__)


class DiscordLoginError(KeleryError):
    """Discord did not accept the token, or could not be reached to log in."""


def _not_about_voice(record: logging.LogRecord) -> bool:
    """Drop nextcord's start-up warning that voice needs PyNaCl: the speaker has no voice."""
    return "PyNaCl" not in record.getMessage()


def make_client() -> nextcord.Client:
    """A client that only posts: the guilds intent alone, no application-command rollout.

    ``guilds`` (not privileged) lets READY complete as soon as the guilds arrive;
    without it nextcord waits out its guild timeout and warns about state.
    """
    return nextcord.Client(
        intents=nextcord.Intents(guilds=True),
        lazy_load_commands=False,
        rollout_associate_known=False,
        rollout_delete_unknown=False,
        rollout_register_new=False,
        rollout_update_known=False,
    )


async def _first(*tasks: asyncio.Future[Any]) -> None:
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)


async def run_speaker_bot(settings: SpeakerSettings, stop: asyncio.Event) -> SpeakerStats:
    """Log in, wait for the gateway, speak until ``stop`` is set; close everything after."""
    Route.BASE = settings.discord.api_base
    logging.getLogger("nextcord.client").addFilter(_not_about_voice)
    client = make_client()
    gateway: asyncio.Task[None] | None = None
    stopper = asyncio.create_task(stop.wait())
    try:
        try:
            await client.login(settings.discord.bot_token())
        except (nextcord.LoginFailure, nextcord.HTTPException, OSError) as exc:
            raise DiscordLoginError(f"cannot log in to {settings.discord.api_base}: {exc}") from exc
        log.info("logged in to %s as %s", settings.discord.api_base, client.user)
        # "connect" is dispatched on READY: the session exists. Waiting for nextcord's
        # own "ready" would add its guild_ready_timeout (2 s) for guild caches we never use.
        connected = asyncio.ensure_future(client.wait_for("connect"))
        gateway = asyncio.create_task(client.connect(reconnect=True))
        await _first(gateway, connected, stopper)
        connected.cancel()
        if gateway.done():
            why = _why(gateway)
            raise DiscordLoginError(f"the Discord gateway session ended before READY: {why}")
        speaker = Speaker(settings, _poster(client), stop)
        if stop.is_set():
            return speaker.stats
        speaking = asyncio.create_task(speaker.run())
        await _first(speaking, gateway)
        if gateway.done() and not speaking.done():
            # nextcord reconnects on its own; a finished connect() means it gave up.
            stop.set()
            await speaking
            raise DiscordLoginError(f"the Discord gateway session ended: {_why(gateway)}")
        await speaking
        return speaker.stats
    finally:
        stopper.cancel()
        await client.close()
        if gateway is not None:
            gateway.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await gateway


def _why(task: asyncio.Task[None]) -> str:
    error = None if task.cancelled() else task.exception()
    return repr(error) if error is not None else "closed"


def _poster(client: nextcord.Client) -> PostFn:
    async def post(planned: PlannedPost) -> object:
        return await send_post(client.http, planned)

    return post
