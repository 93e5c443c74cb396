"""``kelery-discord-speaker``: post what arrives on the speak topic to Discord.

Against real Discord it needs ``DISCORD_TOKEN``; against the devkit's fake one,
``DISCORD_API_BASE=http://127.0.0.1:PORT/api/v10`` is enough. The first
SIGINT/SIGTERM stops it cleanly (the record being posted is finished or left
uncommitted, what was posted is committed, the consumer leaves its group); a
second one exits at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence

from kelery.common.logging import add_verbosity_arguments, level_from_arguments, setup_logging
from kelery.common.runtime import EXIT_OK, GracefulShutdown, run_main
from kelery.common.settings import DiscordSettings, load_settings
from kelery.discord_speaker import __version__
from kelery.discord_speaker.bot import run_speaker_bot
from kelery.discord_speaker.settings import SpeakerSettings

log = logging.getLogger("kelery.discord_speaker")


def build_parser() -> argparse.ArgumentParser:
    """The command line; settings themselves come from the environment and ``.env``."""
    parser = argparse.ArgumentParser(
        prog="kelery-discord-speaker",
        description=(
            "Consume SpeakMessages from the speak topic and post them to Discord, "
            "at least once and without duplicates. Configured through the environment "
            "(or a .env file): KAFKA_BOOTSTRAP_SERVERS, SPEAK_TOPIC, DISCORD_TOKEN, "
            "DISCORD_API_BASE, ANNOUNCEMENT_CHANNEL_ID, SPEAKER_GROUP_ID, "
            "SPEAKER_ALLOWED_MENTIONS."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--topic", help="speak topic to consume (default: $SPEAK_TOPIC)")
    parser.add_argument("--group-id", help="Kafka consumer group (default: $SPEAKER_GROUP_ID)")
    parser.add_argument(
        "--api-base", help="Discord REST API base URL, e.g. a fake Discord's (default: real)"
    )
    add_verbosity_arguments(parser)
    return parser


def _load(args: argparse.Namespace) -> SpeakerSettings:
    """Settings from the environment, with the command line's options winning."""
    overrides: dict[str, object] = {}
    if args.api_base:
        overrides["discord"] = load_settings(DiscordSettings, api_base=args.api_base)
    if args.topic:
        overrides["speak_topic"] = args.topic
    if args.group_id:
        overrides["SPEAKER_GROUP_ID"] = args.group_id
    return load_settings(SpeakerSettings, **overrides)


async def _serve(settings: SpeakerSettings, shutdown: GracefulShutdown) -> None:
    """Run the bot; signals set ``stop`` through the loop, a second one exits at once."""
    with shutdown.stop_event() as stop:
        await run_speaker_bot(settings, stop)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``kelery-discord-speaker``; returns the process exit code."""
    args = build_parser().parse_args(argv)

    def body() -> int:
        settings = _load(args)
        setup_logging(settings.log, level=level_from_arguments(args))
        shutdown = GracefulShutdown()
        asyncio.run(_serve(settings, shutdown))
        if shutdown.requested:
            log.info("stopped on %s", shutdown.signal_name)
        return EXIT_OK

    # run_main turns SettingsError into exit 2 and every other KeleryError
    # (SpeakerFatalError, DiscordLoginError) into one line on stderr and exit 1.
    return run_main(body)
