"""``kelery-dev up``: the whole Kelery system on this machine, and a way to talk to it.

Starts (or finds) a Kafka broker, the fake Discord (unless ``DISCORD_TOKEN`` is
set, in which case the bots use the real one), then a Celery worker and beat on
the Kafka transport, the command router and both Discord bots, each as its own
process with its log in the run folder. Lines typed at the terminal become
messages in the fake Discord's ``#general``; what the bots post is shown as it
happens. Ctrl-C or SIGTERM stops everything (a second one exits at once; the
components' watchdogs still take them down).

``--demo`` is the same system answering ``!ping`` and ``!echo`` once, a quick proof
that every arrow works; it exits non-zero if an answer does not come.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from kelery.devkit.commands import CommandError
from kelery.devkit.commands._console import out, progress

__all__ = ["register"]

READY_TIMEOUT_S = 180.0
EXIT_INTERRUPTED = 130


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``up``."""
    parser = subparsers.add_parser(
        "up",
        help="run the whole system: Kafka, worker, beat, router, both Discord bots",
        description=(
            "Run Kelery on this machine: a Kafka broker (KAFKA_BOOTSTRAP_SERVERS if set, else a "
            "local one), the fake Discord (or the real one when DISCORD_TOKEN is set), a Celery "
            "worker and beat, kelery-consume and both Discord bots. Type a line to say it in "
            "#general (try !ping, !echo hi, !remind 10s stretch, !help); Ctrl-C stops it all."
        ),
    )
    parser.add_argument("--workers", type=int, default=2, help="worker pool size (default 2)")
    parser.add_argument(
        "--discord-port", type=int, default=0, help="fake Discord port (default: a free one)"
    )
    parser.add_argument("--channel", default="general", help="fake Discord channel you talk in")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="say !ping and !echo, show the answers, stop; exit 1 if they do not come",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=READY_TIMEOUT_S,
        help=f"seconds to wait for the system to come up, and for each answer "
        f"(default {READY_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--rundir", type=Path, help="where logs and state go (default: a new temporary folder)"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    # Heavy imports only when `up` runs: every kelery-dev call imports this module.
    from confluent_kafka import KafkaException  # noqa: PLC0415

    from kelery.common.runtime import GracefulShutdown  # noqa: PLC0415
    from kelery.common.settings import (  # noqa: PLC0415
        DiscordSettings,
        KafkaSettings,
        KeleryBaseSettings,
        load_settings,
    )
    from kelery.common.topics import TopicSpec, ensure_topics  # noqa: PLC0415
    from kelery.devkit.fake_discord.server import running_fake_discord  # noqa: PLC0415
    from kelery.devkit.kafka.connect import open_kafka  # noqa: PLC0415
    from kelery.devkit.stack.components import components, missing  # noqa: PLC0415
    from kelery.devkit.stack.session import StackSession  # noqa: PLC0415
    from kelery.devkit.stack.supervisor import Supervisor  # noqa: PLC0415

    # Read like every component reads it: the environment, then a .env in this folder.
    shared = load_settings(KeleryBaseSettings)
    # (api_base given so a missing token is not an error here: no token means the fake.)
    discord = load_settings(DiscordSettings, api_base="http://fake.invalid/api/v10")
    real_discord = discord.token is not None
    if args.demo and real_discord:
        raise CommandError("--demo talks through the fake Discord; unset DISCORD_TOKEN for it")
    rundir: Path = args.rundir or Path(tempfile.mkdtemp(prefix="kelery-up-"))
    rundir.mkdir(parents=True, exist_ok=True)
    stack = components(rundir, workers=args.workers)
    absent = missing(stack)
    if absent:
        raise CommandError(
            "kelery-dev up runs every Kelery component, and these are not installed: "
            f"{', '.join(absent)}. In the repository `uv sync` installs them all; elsewhere "
            f"`pip install {' '.join(absent)}` (or kelery-devkit[stack])."
        )

    with GracefulShutdown() as stop, ExitStack() as cleanup:
        with progress("starting Kafka") as say:
            try:
                endpoint = cleanup.enter_context(open_kafka(workdir=rundir / "kafka", progress=say))
            except ValueError as exc:  # a mistyped KELERY_KAFKA_PROVIDER, say
                raise CommandError(str(exc)) from None
        if stop.event.is_set():
            return EXIT_INTERRUPTED
        out(f"kafka:    {endpoint.describe()}")
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": endpoint.bootstrap_servers}
        env.update(PYTHONUNBUFFERED="1", CONSUMER_PLAIN_MESSAGE_TASK="kelery.record_message")
        fake = None
        if real_discord:
            out("discord:  the real Discord (DISCORD_TOKEN is set)")
        else:
            fake = cleanup.enter_context(running_fake_discord(port=args.discord_port))
            if args.channel not in {channel.name for channel in fake.channels}:
                names = ", ".join(channel.name for channel in fake.channels)
                raise CommandError(f"--channel {args.channel!r} is not one of: {names}")
            env.update(
                DISCORD_API_BASE=fake.api_base,
                ANNOUNCEMENT_CHANNEL_ID=str(fake.channel_id("announcements")),
            )
            channels = ", ".join("#" + c.name for c in fake.channels)
            out(f"discord:  fake Discord at {fake.api_base} ({channels})")

        # The edges create what they use too; doing it first means start order cannot matter.
        topics = (shared.commands_topic, shared.speak_topic)
        kafka = load_settings(KafkaSettings, bootstrap_servers=[endpoint.bootstrap_servers])
        try:
            ensure_topics(kafka, [TopicSpec(name, partitions=3) for name in topics])
        except KafkaException as exc:
            raise CommandError(f"cannot create {', '.join(topics)}: {exc}") from None

        supervisor = Supervisor(rundir, env)
        cleanup.callback(_stop, supervisor)
        session = StackSession(supervisor, fake, stop)
        with progress("starting worker, beat, router and bots") as say:
            for component in stack:
                if stop.event.is_set():
                    break
                say(f"starting {component.name}")
                supervisor.start(component)
            else:
                session.wait_until_up(args.timeout, say)
        if stop.event.is_set():
            return EXIT_INTERRUPTED
        out(f"logs:     {rundir}/<component>.log ({', '.join(c.name for c in stack)})")
        if args.demo:
            return session.demo(args.channel, args.timeout)
        if fake is None:
            out("Kelery is up: talk to your bot in Discord. Ctrl-C stops everything.")
        else:
            out(
                f"Kelery is up. Type a line to say it in #{args.channel} (try !ping, !help, "
                "!remind 10s stretch), or from another terminal: uv run kelery-produce '!ping' "
                "(answers go to #announcements). Ctrl-C stops everything."
            )
        return session.talk(args.channel)


def _stop(supervisor: Any) -> None:
    out("stopping...")
    supervisor.stop()
