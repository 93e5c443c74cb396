"""The nextcord side of the listener: receive guild messages, hand them to the forwarder.

The client asks for exactly the intents it needs: ``guilds`` (channels and the
guild in its cache), ``guild_messages`` (MESSAGE_CREATE) and the privileged
``message_content`` (without it Discord sends empty content: the seed's bug).
Application-command rollout is off: the listener owns no commands, and a rollout
could delete commands another bot of the same application registered.

The forwarder is serviced from a periodic task on the bot's own loop
(``poll(0)`` every few milliseconds), so delivery reports are handled without a
thread and without ever blocking the loop. That task is supervised: if it fails,
delivery reports and the overflow are no longer served, so accepting more
messages would only lose them; the failure is logged at once, the bot is
stopped, whatever waits is flushed and counted, and :func:`run_listener_bot`
raises :class:`ForwarderServiceError` (exit 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kelery.common.errors import KeleryError
from kelery.discord_listener._nextcord import Route, nextcord
from kelery.discord_listener.chat import skip_reason, to_chat_message
from kelery.discord_listener.forwarder import Forwarder, ForwarderStats
from kelery.discord_listener.settings import ListenerSettings

log = logging.getLogger(__name__)

SERVICE_INTERVAL_S = 0.02
"""How often delivery reports are served and held records retried."""


class DiscordLoginError(KeleryError):
    """Discord did not accept the token, or could not be reached to log in."""


class ForwarderServiceError(KeleryError):
    """Serving the forwarder (delivery reports, overflow) failed; the listener stopped."""


def listener_intents() -> nextcord.Intents:
    """Guilds, guild messages and message content; nothing else."""
    return nextcord.Intents(guilds=True, guild_messages=True, message_content=True)


class ListenerBot(nextcord.Client):
    """A client that forwards each allowed message as a ChatMessage."""

    def __init__(self, settings: ListenerSettings, forwarder: Forwarder) -> None:
        nextcord.VoiceClient.warn_nacl = False  # no voice here: don't warn about PyNaCl
        super().__init__(
            intents=listener_intents(),
            lazy_load_commands=False,
            rollout_associate_known=False,
            rollout_delete_unknown=False,
            rollout_register_new=False,
            rollout_update_known=False,
        )
        self.settings = settings
        self.forwarder = forwarder
        self.ready_once = asyncio.Event()
        self._announced = False

    async def on_ready(self) -> None:
        """Log who we are; post the start-up announcement once if it is enabled."""
        log.info(
            "listening as %s on %s (channels: %s)",
            self.user,
            self.settings.discord.api_base,
            self.settings.discord.channels or "all",
        )
        if self.settings.listener_announce and not self._announced:
            self._announced = True
            await self._announce()
        self.ready_once.set()

    async def _announce(self) -> None:
        channel_id = self.settings.discord.announcement_channel_id
        if channel_id is None:  # the settings validator makes this unreachable
            return
        try:
            channel = self.get_channel(channel_id) or await self.fetch_channel(channel_id)
            if not isinstance(channel, nextcord.abc.Messageable):
                log.warning("announcement channel %s is not a text channel", channel_id)
                return
            await channel.send(
                self.settings.listener_announce_text,
                allowed_mentions=nextcord.AllowedMentions.none(),
            )
        except nextcord.HTTPException as exc:
            log.warning("start-up announcement to channel %s failed: %s", channel_id, exc)

    async def on_message(self, message: Any) -> None:
        """Forward ``message`` unless a rule says to skip it; never awaits Kafka."""
        me = self.user.id if self.user is not None else None
        why = skip_reason(message, me=me, allowed=self.settings.discord.channels)
        if why is not None:
            log.debug("not forwarding message %s: %s", message.id, why)
            return
        chat = to_chat_message(message)
        self.forwarder.submit(chat)
        log.debug("forwarding message %s as %s", message.id, chat.uuid)


async def _service(forwarder: Forwarder, stop: asyncio.Event) -> None:
    while not stop.is_set():
        forwarder.service()
        await asyncio.sleep(SERVICE_INTERVAL_S)


def _supervise(servicing: asyncio.Task[None], stop: asyncio.Event) -> None:
    """Stop the bot as soon as servicing fails, instead of noticing it at shutdown."""
    if servicing.cancelled() or servicing.exception() is None:
        return
    log.error(
        "serving Kafka delivery reports failed; stopping the listener",
        exc_info=servicing.exception(),
    )
    stop.set()


async def _service_failure(servicing: asyncio.Task[None]) -> BaseException | None:
    """Wait for the service task to end; its exception, if it failed (already logged)."""
    await asyncio.wait({servicing})
    return None if servicing.cancelled() else servicing.exception()


async def run_listener_bot(
    settings: ListenerSettings,
    stop: asyncio.Event,
    *,
    forwarder: Forwarder | None = None,
    on_bot: Any = None,
) -> ForwarderStats:
    """Log in, forward until ``stop`` is set or the gateway gives up, then flush to Kafka.

    ``on_bot`` (tests, benchmarks) is called with the bot once it exists.
    """
    Route.BASE = settings.discord.api_base
    forwarder = forwarder or Forwarder(
        settings.kafka,
        settings.commands_topic,
        overflow_limit=settings.listener_overflow_limit,
        attempts=settings.listener_delivery_attempts,
    )
    bot = ListenerBot(settings, forwarder)
    if on_bot is not None:
        on_bot(bot)
    servicing = asyncio.create_task(_service(forwarder, stop))
    servicing.add_done_callback(lambda task: _supervise(task, stop))
    gateway: asyncio.Task[None] | None = None
    failure: BaseException | None = None
    try:
        try:
            await bot.login(settings.discord.bot_token())
        except (nextcord.LoginFailure, nextcord.HTTPException, OSError) as exc:
            raise DiscordLoginError(f"cannot log in to {settings.discord.api_base}: {exc}") from exc
        gateway = asyncio.create_task(bot.connect(reconnect=True))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({gateway, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if gateway.done() and not stop.is_set():
            error = None if gateway.cancelled() else gateway.exception()
            raise DiscordLoginError(f"the Discord gateway session ended: {error!r}")
    finally:
        stop.set()
        try:
            await bot.close()
            if gateway is not None:
                gateway.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await gateway
            failure = await _service_failure(servicing)
        finally:
            # Always, whatever failed above: what waits for Kafka is flushed or counted.
            stats = await asyncio.to_thread(forwarder.close, settings.listener_flush_timeout)
            log.info(
                "listener stopped: %d forwarded, %d delivered, %d retried, %d undeliverable",
                stats.submitted,
                stats.delivered,
                stats.retried,
                stats.undeliverable,
            )
    if failure is not None:
        raise ForwarderServiceError(
            f"serving Kafka delivery reports failed: {failure!r} "
            f"({stats.undeliverable} message(s) undeliverable)"
        ) from failure
    return stats
