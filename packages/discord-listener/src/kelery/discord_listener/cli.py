"""``kelery-discord-listener``: forward Discord messages to the commands topic.

Against real Discord it needs ``DISCORD_TOKEN``; against the devkit's fake one,
``DISCORD_API_BASE=http://127.0.0.1:PORT/api/v10`` (or ``--api-base``) is enough.
The first SIGINT/SIGTERM stops it cleanly (the gateway is closed, then whatever
waits for Kafka is flushed for up to ``LISTENER_FLUSH_TIMEOUT`` seconds); a
second one exits at once. Exit status: 0 after a clean stop, 1 when messages
could not be delivered or Discord refused the login, 2 for bad settings.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence

from kelery.common.logging import add_verbosity_arguments, level_from_arguments, setup_logging
from kelery.common.runtime import (
    EXIT_FAILURE,
    EXIT_OK,
    GracefulShutdown,
    run_main,
)
from kelery.common.settings import DiscordSettings, load_settings
from kelery.discord_listener import __version__
from kelery.discord_listener.bot import run_listener_bot
from kelery.discord_listener.settings import ListenerSettings

log = logging.getLogger("kelery.discord_listener")


def build_parser() -> argparse.ArgumentParser:
    """The command line; settings themselves come from the environment and ``.env``."""
    parser = argparse.ArgumentParser(
        prog="kelery-discord-listener",
        description=(
            "Forward the messages people write in Discord channels to the Kafka commands "
            "topic, as ChatMessages keyed by channel id. Configured through the environment "
            "(or a .env file): KAFKA_BOOTSTRAP_SERVERS, COMMANDS_TOPIC, DISCORD_TOKEN, "
            "DISCORD_API_BASE, DISCORD_CHANNELS (allowlist, empty = all), "
            "ANNOUNCEMENT_CHANNEL_ID, LISTENER_ANNOUNCE, LISTENER_OVERFLOW_LIMIT, "
            "LISTENER_FLUSH_TIMEOUT."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--topic", help="commands topic to produce to (default: $COMMANDS_TOPIC)")
    parser.add_argument(
        "--api-base", help="Discord REST API base URL, e.g. a fake Discord's (default: real)"
    )
    parser.add_argument(
        "--announce",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="post the start-up announcement to ANNOUNCEMENT_CHANNEL_ID ($LISTENER_ANNOUNCE)",
    )
    add_verbosity_arguments(parser)
    return parser


def _load(args: argparse.Namespace) -> ListenerSettings:
    """Settings from the environment, with the command line's options winning."""
    overrides: dict[str, object] = {}
    if args.api_base:
        overrides["discord"] = load_settings(DiscordSettings, api_base=args.api_base)
    if args.topic:
        overrides["commands_topic"] = args.topic
    if args.announce is not None:
        overrides["listener_announce"] = args.announce
    return load_settings(ListenerSettings, **overrides)


async def _serve(settings: ListenerSettings, shutdown: GracefulShutdown) -> int:
    """Run the bot; the first signal closes the gateway, then flushes; a second exits now."""
    with shutdown.stop_event() as stop:
        stats = await run_listener_bot(settings, stop)
    return EXIT_FAILURE if stats.undeliverable else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``kelery-discord-listener``."""
    args = build_parser().parse_args(argv)

    def body() -> int:
        settings = _load(args)
        setup_logging(settings.log, level=level_from_arguments(args))
        shutdown = GracefulShutdown()
        return asyncio.run(_serve(settings, shutdown))

    return run_main(body)
