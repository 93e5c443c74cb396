"""Benchmark: SpeakMessage on Kafka -> kelery-discord-speaker -> post recorded by the fake Discord.

Run: ``python packages/discord-speaker/bench/bench_speaker.py --out FILE``, with the
broker in ``KELERY_BENCH_KAFKA`` (else ``KELERY_TEST_KAFKA``).

What is measured, in one run:

- the speaker: ``--count`` SpeakMessages produced one every ``1/--rate`` seconds
  to a fresh speak topic; the real speaker (``python -m kelery.discord_speaker``,
  a separate process) posts them to the devkit's fake Discord. Latency of each
  message = the fake's record time of the post minus the wall time just before
  ``produce``.
- the comparison: the same number of posts sent straight to the same fake by
  nextcord's HTTP client from this process at the same rate (no Kafka, no
  speaker); latency = record time minus the wall time just before the request.
  The difference is what the Kafka hop and the speaker add.

A first message of each side is a warm-up and not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer

from kelery.common.schemas import SpeakMessage
from kelery.devkit.fake_discord import FakeDiscord, running_fake_discord
from kelery.devkit.topics import unique_topic_name
from kelery.discord_speaker._nextcord import HTTPClient, Route
from kelery.discord_speaker.poster import send_post
from kelery.discord_speaker.posts import PlannedPost

TARGET_P50_MS = 20.0
TARGET_P99_MS = 100.0
WAIT_S = 180.0


@dataclass
class Result:
    name: str
    latencies_ms: list[float]

    def pct(self, q: int) -> float:
        cuts = statistics.quantiles(self.latencies_ms, n=100, method="inclusive")
        return cuts[q - 1]

    @property
    def p50(self) -> float:
        return self.pct(50)

    @property
    def p99(self) -> float:
        return self.pct(99)


def _latencies(fake: FakeDiscord, channel: str, sent: dict[str, float]) -> list[float]:
    out = []
    for record in fake.posts(channel):
        started = sent.get(record.content)
        if started is not None:
            out.append((record.message.timestamp.timestamp() - started) * 1000)
    return out


def bench_speaker(fake: FakeDiscord, kafka: str, count: int, interval: float) -> Result:
    topic = unique_topic_name("bench-speaker")
    channel = fake.channel_id("general")
    workdir = Path(tempfile.mkdtemp(prefix="bench-speaker-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "SPEAKER_"))}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=kafka,
        SPEAK_TOPIC=topic,
        SPEAKER_GROUP_ID=f"bench-{topic}",
        DISCORD_API_BASE=fake.api_base,
        LOG_LEVEL="WARNING",
    )
    log_path = workdir / "speaker.log"
    with log_path.open("wb") as log_file:
        speaker = subprocess.Popen(
            [sys.executable, "-m", "kelery.discord_speaker"],
            env=env,
            cwd=workdir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    producer = Producer({"bootstrap.servers": kafka, "linger.ms": 0, "acks": "all"})
    try:
        producer.produce(topic, SpeakMessage(content="warm-up", channel_id=channel).to_json_bytes())
        producer.flush(30)
        fake.wait_for_posts("general", 1, timeout=WAIT_S)
        sent: dict[str, float] = {}
        next_at = time.perf_counter()
        for index in range(count):
            content = f"speaker {index}"
            value = SpeakMessage(content=content, channel_id=channel).to_json_bytes()
            next_at += interval
            while (pause := next_at - time.perf_counter()) > 0:
                time.sleep(pause)
            sent[content] = time.time()
            producer.produce(topic, value, key=b"bench")
            producer.poll(0)
        if producer.flush(30):
            raise RuntimeError("the benchmark's producer could not deliver every message")
        fake.wait_for_posts("general", count + 1, timeout=WAIT_S)
    finally:
        if speaker.poll() is None:
            speaker.send_signal(signal.SIGTERM)
        try:
            speaker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            speaker.kill()
            speaker.wait()
    if speaker.returncode != 0:
        sys.stderr.write(log_path.read_text(encoding="utf-8", errors="replace"))
        raise RuntimeError(f"speaker exited {speaker.returncode}")
    return Result("speaker", _latencies(fake, "general", sent))


async def _direct(fake: FakeDiscord, count: int, interval: float) -> dict[str, float]:
    Route.BASE = fake.api_base
    http = HTTPClient(dispatch=lambda *_args: None)
    await http.static_login("kelery-bench-direct")
    channel = fake.channel_id("random")
    sent: dict[str, float] = {}
    try:
        await send_post(http, PlannedPost(channel, "warm-up", "warm-up"))
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        for index in range(count):
            content = f"direct {index}"
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            sent[content] = time.time()
            await send_post(http, PlannedPost(channel, content, f"direct-{index}"))
    finally:
        await http.close()
    return sent


def bench_direct(fake: FakeDiscord, count: int, interval: float) -> Result:
    sent = asyncio.run(_direct(fake, count, interval))
    return Result("direct", _latencies(fake, "random", sent))


def render(speaker: Result, direct: Result, count: int, rate: float, kafka: str) -> str:
    ok = speaker.p50 < TARGET_P50_MS and speaker.p99 < TARGET_P99_MS
    verdict = "**pass**" if ok else "**FAIL**"

    def row(label: str, r: Result, target: str, result: str) -> str:
        return (
            f"| {label} | {len(r.latencies_ms)} | {r.p50:.2f} | {r.p99:.2f} | "
            f"{max(r.latencies_ms):.2f} | {target} | {result} |"
        )

    return "\n".join(
        [
            "## Discord speaker: SpeakMessage on Kafka to a Discord post",
            "",
            f"{count} SpeakMessages produced to a fresh speak topic, one every "
            f"{1000 / rate:.0f} ms ({rate:.0f}/s), consumed by `kelery-discord-speaker` "
            "(a separate process) and posted to the devkit's fake Discord. Latency: the "
            "fake's record time of the post minus the wall time just before `produce`. "
            "Comparison, same run and pacing: posts sent straight to the same fake with "
            "nextcord's HTTP client (no Kafka, no speaker). "
            f"Broker `{kafka}`; {os.cpu_count()} CPUs; Python {platform.python_version()}.",
            "",
            "| path | messages | p50 ms | p99 ms | max ms | target | result |",
            "|---|---|---|---|---|---|---|",
            row(
                "Kafka -> speaker -> fake Discord",
                speaker,
                f"p50 < {TARGET_P50_MS:.0f} ms, p99 < {TARGET_P99_MS:.0f} ms",
                verdict,
            ),
            row("comparison: direct post -> fake Discord", direct, "-", "-"),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="markdown fragment to write")
    parser.add_argument("--count", type=int, default=1000, help="messages per side")
    parser.add_argument("--rate", type=float, default=100.0, help="messages per second")
    args = parser.parse_args(argv)
    kafka = os.environ.get("KELERY_BENCH_KAFKA") or os.environ.get("KELERY_TEST_KAFKA")
    if not kafka:
        parser.error("set KELERY_BENCH_KAFKA (or KELERY_TEST_KAFKA) to the broker's host:port")
    interval = 1.0 / args.rate
    with running_fake_discord() as fake:
        print(f"speaker: {args.count} messages at {args.rate:.0f}/s ...", file=sys.stderr)
        speaker = bench_speaker(fake, kafka, args.count, interval)
        print(f"direct: {args.count} posts at {args.rate:.0f}/s ...", file=sys.stderr)
        direct = bench_direct(fake, args.count, interval)
    if len(speaker.latencies_ms) != args.count or len(direct.latencies_ms) != args.count:
        print("error: not every message was posted", file=sys.stderr)
        return 1
    fragment = render(speaker, direct, args.count, args.rate, kafka)
    args.out.write_text(fragment, encoding="utf-8")
    print(fragment)
    return 0


if __name__ == "__main__":
    sys.exit(main())
