"""Benchmark: a chat command's round trip through the whole system, Kelery's transport vs kombu's.

Run: ``python packages/devkit/bench/bench_chat.py --out FILE``, with the broker in
``KELERY_BENCH_KAFKA`` (else ``KELERY_TEST_KAFKA``).

The other benchmarks time one edge each; this one times what a person in the
chat waits for. In one run, on one broker:

- Kelery: the processes ``kelery-dev up`` starts (the same command lines, from
  :func:`kelery.devkit.stack.components.components`, beat left out), each a
  separate process, on fresh topics, against the devkit's fake Discord: a Celery
  worker on Kelery's Kafka transport, ``kelery-consume`` and both Discord bots.
  ``--count`` ``!echo`` commands are said in ``#general``, one every
  ``1/--rate`` seconds. Latency of each = the fake's record time of the bot's
  answer minus the wall time just before the message was injected. The path:
  gateway → listener → commands topic → kelery-consume → task on the queue
  topic → worker → speak topic → speaker → REST post.
- the comparison: the same processes with one setting changed,
  ``CELERY_BROKER_URL=confluentkafka://…`` for the worker and kelery-consume, so
  Celery's hop runs on kombu's own Kafka transport (the seed's choice); every
  other arrow is the same code.

Each side first waits for its worker to say it is ready and both bots to log
in, then for answers to ``--warmup`` uncounted commands (connections, group
joins). A command without an answer within ``--timeout`` seconds of the last one
said is reported as unanswered; its latency is not counted, so the table says
how many were answered. Target (docs/architecture.md: a chat reply in well under
100 ms): Kelery's p99 < 100 ms, every command answered.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kelery.common.runtime import GracefulShutdown
from kelery.devkit.fake_discord import FakeDiscord, running_fake_discord
from kelery.devkit.stack.components import components
from kelery.devkit.stack.session import StackSession
from kelery.devkit.stack.supervisor import Supervisor
from kelery.devkit.topics import unique_topic_name

TARGET_P99_MS = 100.0
WORKERS = 2  # the worker's pool size, as kelery-dev up's default
READY_S = 180.0
CHANNEL = "general"
# Settings a developer's shell may hold that would point a process elsewhere.
_FOREIGN = ("KAFKA_", "DISCORD_", "CELERY_", "CONSUMER_", "SPEAKER_", "LISTENER_", "TASK_")
_FOREIGN_NAMES = ("COMMANDS_TOPIC", "SPEAK_TOPIC", "ANNOUNCEMENT_CHANNEL_ID", "LOG_LEVEL")


@dataclass
class Side:
    """One column: its name, its Celery broker URL (None: Kelery's default) and results."""

    name: str
    broker_url: str | None
    said: int = 0
    latencies_ms: tuple[float, ...] = ()

    def pct(self, q: int) -> float:
        cuts = statistics.quantiles(self.latencies_ms, n=100, method="inclusive")
        return cuts[q - 1]


def _environment(kafka: str, fake: FakeDiscord, broker_url: str | None) -> dict[str, str]:
    """The components' environment: fresh topics and groups, the fake, the broker URL."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_FOREIGN) and k not in _FOREIGN_NAMES
    }
    run = unique_topic_name("bench-chat")
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=kafka,
        COMMANDS_TOPIC=f"{run}.commands",
        SPEAK_TOPIC=f"{run}.speak",
        TASK_QUEUE=f"{run}.tasks",
        CONSUMER_TASK_QUEUE=f"{run}.tasks",
        CONSUMER_GROUP_ID=f"{run}.consumer",
        SPEAKER_GROUP_ID=f"{run}.speaker",
        DISCORD_API_BASE=fake.api_base,
        ANNOUNCEMENT_CHANNEL_ID=str(fake.channel_id("announcements")),
        PYTHONUNBUFFERED="1",
    )
    if broker_url is not None:
        env["CELERY_BROKER_URL"] = broker_url
    return env


@contextmanager
def _running_system(
    kafka: str, fake: FakeDiscord, broker_url: str | None, rundir: Path
) -> Iterator[None]:
    """The worker, kelery-consume and both bots, up and logged in; stopped on exit."""
    supervisor = Supervisor(rundir, _environment(kafka, fake, broker_url))
    try:
        for component in components(rundir, workers=WORKERS):
            if component.name != "beat":  # periodic posts would only add noise
                supervisor.start(component)
        with GracefulShutdown() as stop:
            StackSession(supervisor, fake, stop).wait_until_up(
                READY_S, lambda status: print(f"  {status}", file=sys.stderr)
            )
        yield
    finally:
        supervisor.stop()


def _answered(fake: FakeDiscord, sent: dict[str, float]) -> dict[str, float]:
    """Latency in ms of each command answered so far, by its text."""
    return {
        post.content: (post.message.timestamp.timestamp() - sent[post.content]) * 1000
        for post in fake.posts(CHANNEL)
        if post.content in sent
    }


def _say(fake: FakeDiscord, texts: list[str], interval: float, timeout: float) -> dict[str, float]:
    """Say ``!echo <text>`` for each text, paced; wait for the answers; their latencies."""
    sent: dict[str, float] = {}
    next_at = time.perf_counter()
    for text in texts:
        while (pause := next_at - time.perf_counter()) > 0:
            time.sleep(pause)
        next_at += interval
        sent[text] = time.time()
        fake.inject_message(CHANNEL, f"!echo {text}", author="bench")
    fake.state.wait_until(lambda: len(_answered(fake, sent)) == len(sent), timeout)
    return _answered(fake, sent)


def bench_side(
    side: Side, kafka: str, *, count: int, interval: float, warmup: int, timeout: float
) -> None:
    """Run one column's system, warm it up, then time ``count`` commands."""
    print(f"{side.name}: starting the system ...", file=sys.stderr)
    with (
        running_fake_discord() as fake,
        tempfile.TemporaryDirectory(prefix="bench-chat-") as rundir,
        _running_system(kafka, fake, side.broker_url, Path(rundir)),
    ):
        warm = [f"warm-up {i}" for i in range(warmup)]
        if len(_say(fake, warm, 1.0, READY_S)) < warmup:
            raise RuntimeError(f"{side.name}: the warm-up commands were not all answered")
        print(f"{side.name}: {count} commands ...", file=sys.stderr)
        timed = [f"round trip {i}" for i in range(count)]
        answered = _say(fake, timed, interval, timeout)
    side.said = count
    side.latencies_ms = tuple(answered[text] for text in timed if text in answered)


def render(kelery: Side, kombu: Side, rate: float, kafka: str) -> str:
    """The markdown fragment."""

    def row(side: Side, target: str, result: str) -> str:
        figures = ["—", "—", "—"]
        if len(side.latencies_ms) >= 2:
            figures = [
                f"{side.pct(50):.1f}",
                f"{side.pct(99):.1f}",
                f"{max(side.latencies_ms):.1f}",
            ]
        cells = [side.name, str(side.said), str(len(side.latencies_ms)), *figures, target, result]
        return "| " + " | ".join(cells) + " |"

    ok = (
        len(kelery.latencies_ms) == kelery.said
        and kelery.said > 1
        and kelery.pct(99) < TARGET_P99_MS
    )
    return "\n".join(
        [
            "## A chat command's round trip through the whole system",
            "",
            f"`!echo` commands said in the fake Discord's `#{CHANNEL}`, one every "
            f"{1000 / rate:.0f} ms, each answered by the bots; latency = the fake's record "
            "time of the answer minus the wall time just before the command was injected. "
            "The processes are those `kelery-dev up` starts (beat left out), each its own "
            "process, on fresh topics: listener → commands topic → kelery-consume → Celery "
            f"task → worker (prefork, {WORKERS} children) → speak topic → speaker. The second "
            "row is the same system with `CELERY_BROKER_URL` pointing the worker and "
            "kelery-consume at kombu's own `confluentkafka://` transport (the seed's); "
            "nothing else changed. Warm-up commands are not counted.",
            "",
            "| Celery broker | said | answered | p50 (ms) | p99 (ms) | max (ms) | target "
            "| result |",
            "|---|---:|---:|---:|---:|---:|---|---|",
            row(
                kelery,
                f"all answered, p99 < {TARGET_P99_MS:g} ms",
                "**pass**" if ok else "**FAIL**",
            ),
            row(kombu, "(comparison)", "—"),
            "",
            f"Broker {kafka}; Python {platform.python_version()} on {platform.system()} "
            f"{platform.machine()}, {os.cpu_count()} CPUs.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="markdown fragment to write")
    parser.add_argument("--count", type=int, default=200, help="timed commands per side")
    parser.add_argument("--rate", type=float, default=10.0, help="commands per second")
    parser.add_argument("--warmup", type=int, default=5, help="uncounted commands per side")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the last answers"
    )
    args = parser.parse_args(argv)
    kafka = os.environ.get("KELERY_BENCH_KAFKA") or os.environ.get("KELERY_TEST_KAFKA")
    if not kafka:
        parser.error("set KELERY_BENCH_KAFKA (or KELERY_TEST_KAFKA) to the broker's host:port")
    if args.count < 2:
        parser.error("--count must be at least 2")
    sides = [
        Side("Kelery `kelery+kafka://` (the default)", None),
        Side("kombu `confluentkafka://`", f"confluentkafka://{kafka}"),
    ]
    for side in sides:
        bench_side(
            side,
            kafka,
            count=args.count,
            interval=1.0 / args.rate,
            warmup=args.warmup,
            timeout=args.timeout,
        )
    fragment = render(*sides, args.rate, kafka)
    args.out.write_text(fragment, encoding="utf-8")
    print(fragment)
    return 0


if __name__ == "__main__":
    sys.exit(main())
