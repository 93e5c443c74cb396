"""``kelery-dev discord``: run the fake Discord in the foreground, for the quickstart.

The bots reach it with ``DISCORD_API_BASE`` (no token needed); a person drives it
with the test API it prints (inject a message, read what the bots posted). Ctrl-C
or SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import signal
from typing import Any

from kelery.devkit.commands import CommandError
from kelery.devkit.commands._console import out

__all__ = ["register"]

DEFAULT_PORT = 8700


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``discord``."""
    parser = subparsers.add_parser(
        "discord",
        help="a fake Discord (REST API v10 + gateway) the real bots can log in to",
        description=(
            "Serve a fake Discord on this machine so kelery-discord-listener and "
            "kelery-discord-speaker run without a token. Prints the DISCORD_API_BASE to "
            "export and how to inject a message; runs until Ctrl-C."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--channels",
        default="general,random,announcements",
        help="comma-separated text channel names of the one guild",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    channels = tuple(name.strip() for name in str(args.channels).split(",") if name.strip())
    if not channels:
        raise CommandError("--channels needs at least one channel name")
    try:
        asyncio.run(_serve(args.host, args.port, channels))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CommandError(f"port {args.port} on {args.host} is in use; try --port 0") from None
        raise CommandError(f"cannot serve on {args.host}:{args.port}: {exc}") from None
    return 0


async def _serve(host: str, port: int, channels: tuple[str, ...]) -> None:
    from kelery.devkit.fake_discord.server import serve  # noqa: PLC0415 - keep kelery-dev light

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(host, port, channels=channels) as fake:
        first = fake.channels[0]
        out(f"fake Discord listening on {fake.base_url}")
        out(f"export DISCORD_API_BASE={fake.api_base}")
        out(f"guild {fake.guild_id}; channels:")
        for channel in fake.channels:
            out(f"  {channel.name:<16} {channel.id}")
        out(f"export ANNOUNCEMENT_CHANNEL_ID={first.id}")
        out("inject a message as a user:")
        out(
            f"  curl -X POST {fake.base_url}/_test/channels/{first.name}/inject "
            '-H \'Content-Type: application/json\' -d \'{"content": "!ping", "author": "alice"}\''
        )
        out(f"read what the bots posted:  curl {fake.base_url}/_test/channels/{first.name}/posts")
        out("Ctrl-C stops it.")
        await stop.wait()
    out("fake Discord stopped")
