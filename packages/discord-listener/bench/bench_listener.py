"""Benchmark: message in the fake Discord -> kelery-discord-listener -> commands topic record.

Run: ``python packages/discord-listener/bench/bench_listener.py --out FILE``, with the
broker in ``KELERY_BENCH_KAFKA`` (else ``KELERY_TEST_KAFKA``).

What is measured, in one run:

- the listener: ``--count`` user messages injected into the devkit's fake Discord,
  one every ``1/--rate`` seconds; the real listener (``python -m
  kelery.discord_listener``, a separate process, default settings) receives each
  over the gateway and produces it to a fresh one-partition commands topic.
  Latency of each message = the time a consumer in this process receives the
  record minus the time just before the message was injected (one clock, this
  process).
- the comparison: the same number of ChatMessages produced straight to another
  fresh topic by a plain confluent-kafka producer in this process (same
  config as the forwarder's, so the same linger and acks), at the same rate, received by
  the same kind of consumer. That is the Kafka floor; the difference is what the
  fake gateway, nextcord and the listener add.

The first ``--warmup`` messages of each side (connections, metadata, group join)
are sent and waited for before timing starts, and are not counted.
Targets for the listener: p50 < 20 ms, p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from kelery.common.kafka_config import client_config
from kelery.common.schemas import ChatMessage, decode_chat_message
from kelery.common.settings import KafkaSettings
from kelery.devkit.fake_discord import FakeDiscord, running_fake_discord
from kelery.devkit.topics import unique_topic_name
from kelery.discord_listener.forwarder import producer_config

TARGET_P50_MS = 20.0
TARGET_P99_MS = 100.0
WAIT_S = 120.0


@dataclass
class Result:
    name: str
    latencies_ms: list[float]

    def pct(self, q: int) -> float:
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[q - 1]

    @property
    def p50(self) -> float:
        return self.pct(50)

    @property
    def p99(self) -> float:
        return self.pct(99)


class Arrivals:
    """A consumer thread that notes when each record (by content) became visible."""

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        self.seen: dict[str, float] = {}
        self._changed = threading.Condition()
        self._assigned = threading.Event()
        self._stop = threading.Event()
        self._consumer = Consumer(
            client_config(kafka, "consumer", group_id=f"bench-{topic}", fetch_wait_max_ms=100)
        )
        self._consumer.subscribe([topic], on_assign=lambda *_: self._assigned.set())
        self._thread = threading.Thread(target=self._run, name=f"arrivals-{topic}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self._consumer.poll(0.05)
            if message is None or message.error() is not None:
                continue
            now = time.perf_counter()
            content = decode_chat_message(message.value()).content
            with self._changed:
                self.seen[content] = now
                self._changed.notify_all()
        self._consumer.close()

    def wait_assigned(self) -> None:
        if not self._assigned.wait(WAIT_S):
            raise RuntimeError("the bench consumer was never assigned its partition")

    def wait_for(self, contents: list[str]) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: all(c in self.seen for c in contents), WAIT_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _paced(count: int, interval: float, send: Callable[[int], None]) -> list[float]:
    """Call ``send(i)`` every ``interval`` seconds; return the time just before each call."""
    sent: list[float] = []
    start = time.perf_counter()
    for i in range(count):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sent.append(time.perf_counter())
        send(i)
    return sent


def _latencies(prefix: str, sent: list[float], arrivals: Arrivals) -> list[float]:
    return [(arrivals.seen[f"{prefix}-{i}"] - t) * 1000 for i, t in enumerate(sent)]


def bench_listener(
    fake: FakeDiscord, kafka: KafkaSettings, topic: str, *, count: int, interval: float, warmup: int
) -> Result:
    arrivals = Arrivals(kafka, topic)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "LISTENER_"))}
    env.update(
        DISCORD_API_BASE=fake.api_base,
        KAFKA_BOOTSTRAP_SERVERS=kafka.bootstrap,
        COMMANDS_TOPIC=topic,
        LOG_LEVEL="WARNING",
    )
    with (
        tempfile.TemporaryDirectory() as cwd,
        subprocess.Popen(
            [sys.executable, "-m", "kelery.discord_listener"], env=env, cwd=cwd
        ) as listener,
    ):
        try:
            arrivals.wait_assigned()
            fake.wait_for_gateway("identify", 1, timeout=WAIT_S)
            general = fake.channel_id("general")
            warm = [f"warmup-{i}" for i in range(warmup)]
            for content in warm:
                fake.inject_message(general, content, author="bench")
            if not arrivals.wait_for(warm):
                raise RuntimeError("warm-up messages never reached the commands topic")
            sent = _paced(
                count,
                interval,
                lambda i: fake.inject_message(general, f"listener-{i}", author="bench"),
            )
            if not arrivals.wait_for([f"listener-{i}" for i in range(count)]):
                raise RuntimeError("not every injected message reached the commands topic")
        finally:
            listener.send_signal(signal.SIGTERM)
            try:
                listener.wait(timeout=30)
            except subprocess.TimeoutExpired:
                listener.kill()
            arrivals.stop()
    return Result(
        "fake Discord → kelery-discord-listener → Kafka", _latencies("listener", sent, arrivals)
    )


def bench_bare_kafka(
    kafka: KafkaSettings, topic: str, count: int, interval: float, warmup: int
) -> Result:
    arrivals = Arrivals(kafka, topic)
    producer = Producer(producer_config(kafka))

    def produce(content: str) -> None:
        chat = ChatMessage(content=content, channel_id="1", source="bench")
        producer.produce(topic, value=chat.to_json_bytes(), key=b"1")
        producer.poll(0)

    try:
        arrivals.wait_assigned()
        warm = [f"warmup-{i}" for i in range(warmup)]
        for content in warm:
            produce(content)
        producer.flush(30)
        if not arrivals.wait_for(warm):
            raise RuntimeError("warm-up records never arrived")
        sent = _paced(count, interval, lambda i: produce(f"bare-{i}"))
        producer.flush(30)
        if not arrivals.wait_for([f"bare-{i}" for i in range(count)]):
            raise RuntimeError("not every record arrived")
    finally:
        arrivals.stop()
    return Result(
        "plain confluent-kafka producer → Kafka (floor)", _latencies("bare", sent, arrivals)
    )


def _create_topics(kafka: KafkaSettings, names: list[str]) -> None:
    admin = AdminClient(client_config(kafka, "admin"))
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=1, replication_factor=1) for n in names]
    )
    for future in futures.values():
        future.result(timeout=30)


def _delete_topics(kafka: KafkaSettings, names: list[str]) -> None:
    admin = AdminClient(client_config(kafka, "admin"))
    for future in admin.delete_topics(names).values():
        try:
            future.result(timeout=30)
        except Exception as exc:  # noqa: BLE001 - cleanup only
            print(f"warning: could not delete {names}: {exc}", file=sys.stderr)


def render(listener: Result, bare: Result, count: int, rate: float, kafka: KafkaSettings) -> str:
    ok50 = listener.p50 < TARGET_P50_MS
    ok99 = listener.p99 < TARGET_P99_MS
    verdict = "**pass**" if ok50 and ok99 else "**fail**"
    lines = [
        "## Discord listener: message → commands topic latency",
        "",
        f"{count} user messages injected into the devkit's fake Discord at {rate:.0f}/s; "
        "the real `kelery-discord-listener` (separate process, default settings: "
        f"linger.ms={producer_config(kafka)['linger.ms']:g}, acks={kafka.acks}, idempotent) "
        "forwards each to a one-partition commands topic. Latency = a consumer in the bench "
        "process receiving the record minus the moment just before the message was "
        "injected. Beside it, the same count of ChatMessages produced straight to Kafka "
        "with the same client config (the floor the listener sits on). Warm-up messages "
        "are not counted.",
        "",
        "| path | messages | p50 (ms) | p99 (ms) | max (ms) | target | result |",
        "|---|---:|---:|---:|---:|---|---|",
        f"| {listener.name} | {len(listener.latencies_ms)} | {listener.p50:.1f} | "
        f"{listener.p99:.1f} | {max(listener.latencies_ms):.1f} | "
        f"p50 < {TARGET_P50_MS:g} ms, p99 < {TARGET_P99_MS:g} ms | {verdict} |",
        f"| {bare.name} | {len(bare.latencies_ms)} | {bare.p50:.1f} | {bare.p99:.1f} | "
        f"{max(bare.latencies_ms):.1f} | (comparison) | — |",
        "",
        f"Broker {kafka.bootstrap}; Python {platform.python_version()} on "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="markdown fragment to write")
    parser.add_argument("--count", type=int, default=1000, help="messages per side")
    parser.add_argument("--rate", type=float, default=100.0, help="messages per second")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted messages per side")
    args = parser.parse_args(argv)
    bootstrap = os.environ.get("KELERY_BENCH_KAFKA") or os.environ.get("KELERY_TEST_KAFKA")
    if not bootstrap:
        parser.error("set KELERY_BENCH_KAFKA (or KELERY_TEST_KAFKA) to the broker's host:port")
    if args.count < 2:
        parser.error("--count must be at least 2")
    kafka = KafkaSettings(bootstrap_servers=bootstrap.split(","))
    topics = [unique_topic_name("bench-listener"), unique_topic_name("bench-listener-bare")]
    _create_topics(kafka, topics)
    interval = 1.0 / args.rate
    try:
        with running_fake_discord() as fake:
            print(f"listener: {args.count} messages at {args.rate:.0f}/s ...", file=sys.stderr)
            listener = bench_listener(
                fake, kafka, topics[0], count=args.count, interval=interval, warmup=args.warmup
            )
        print(f"bare kafka: {args.count} records at {args.rate:.0f}/s ...", file=sys.stderr)
        bare = bench_bare_kafka(kafka, topics[1], args.count, interval, args.warmup)
    finally:
        _delete_topics(kafka, topics)
    fragment = render(listener, bare, args.count, args.rate, kafka)
    args.out.write_text(fragment, encoding="utf-8")
    print(fragment)
    return 0


if __name__ == "__main__":
    sys.exit(main())
