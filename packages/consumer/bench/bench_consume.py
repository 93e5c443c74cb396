"""Benchmark: records/s that kelery-consume decodes, validates and routes, beside a bare loop.

Run as ``python packages/consumer/bench/bench_consume.py --out FILE``. The broker comes
from ``KELERY_BENCH_KAFKA`` (else ``KELERY_TEST_KAFKA``). It produces N chat records
(a mix of routed commands, unknown commands, plain chat and invalid records) to a
fresh topic, then reads all of them, in the same run:

1. with a bare confluent-kafka ``consume()`` loop that only reads (the floor), and
2. with kelery-consume's real loop (``ConsumeLoop``: decode, validate, route, offset
   tracking, batched commits) into a null dispatcher, as ``--dry-run`` does
   without printing,

each with its own fresh consumer group, timed from the first record to the last
(so the group join is not counted). It also times ``Decider.decide`` alone, in
memory. Target: the kelery-consume loop handles at least 5,000 records/s.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import confluent_kafka
from confluent_kafka import Consumer, KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from kelery.common.kafka_config import client_config
from kelery.common.schemas import ChatMessage
from kelery.common.settings import KafkaSettings
from kelery.consumer.decide import Decider, Decision
from kelery.consumer.dispatch import Done, LiveDispatcher, celery_broker_config, make_celery_app
from kelery.consumer.loop import ConsumeLoop, LoopOptions
from kelery.consumer.metrics import ConsumerStats
from kelery.consumer.routing import RoutingTable

TARGET_RPS = 5_000
ROUNDS = 2


def _records(count: int) -> list[bytes]:
    """A realistic mix: 70 % routed commands, 10 % unknown, 15 % plain chat, 5 % invalid."""
    values = []
    for i in range(count):
        kind = i % 20
        if kind < 14:
            content = ("!ping", f"!echo hello {i}", f'!remind 10m "stand up {i}"', "!stats")[i % 4]
        elif kind < 16:
            content = f"!dance {i}"
        elif kind < 19:
            content = f"just chatting, message {i}"
        else:
            values.append(b"\xff not json" if i % 2 else b'{"uuid": "x"}')
            continue
        values.append(
            ChatMessage(
                content=content,
                source="bench",
                channel_id=str(1000 + i % 7),
                author_id="42",
                author_name="bench",
            ).to_json_bytes()
        )
    return values


def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    failures: list[str] = []

    def report(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error.str())

    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20}
    )
    for value in values:
        while True:
            try:
                producer.produce(topic, value=value, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    if producer.flush(60) or failures:
        sys.exit(f"could not pre-produce the records: {failures[:3]}")


def _consumer_config(bootstrap: str) -> dict[str, object]:
    kafka = KafkaSettings(bootstrap_servers=[bootstrap])
    return client_config(kafka, "consumer", group_id=f"bench-{uuid.uuid4().hex}")


@dataclass
class Timing:
    records: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else float("inf")


def bare_loop(bootstrap: str, topic: str, count: int) -> Timing:
    """Read ``count`` records and do nothing with them: the floor."""
    consumer = Consumer(_consumer_config(bootstrap))
    consumer.subscribe([topic])
    seen = 0
    first = 0.0
    try:
        while seen < count:
            for message in consumer.consume(num_messages=500, timeout=1.0):
                if message.error() is None:
                    if seen == 0:
                        first = time.perf_counter()
                    seen += 1
        last = time.perf_counter()
    finally:
        consumer.close()
    return Timing(seen, last - first)


class _NullDispatcher:
    """Counts and finishes every decision at once; notes when the first and last came."""

    fatal: str | None = None

    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0

    def dispatch(self, decision: Decision, record: Message, done: Done) -> None:
        if self.count == 0:
            self.first = time.perf_counter()
        self.count += 1
        done()
        self.last = time.perf_counter()

    def poll(self) -> None:
        return None

    def flush(self, timeout: float) -> int:
        return 0

    def close(self) -> None:
        return None


class _NeverStop:
    requested = False

    def wait(self, timeout: float | None = None) -> bool:
        return False


def kelery_loop(bootstrap: str, topic: str, count: int) -> tuple[Timing, ConsumerStats]:
    """Read ``count`` records through kelery-consume's loop, decisions to a null dispatcher."""
    dispatcher = _NullDispatcher()
    loop = ConsumeLoop(
        Consumer(_consumer_config(bootstrap)),
        Decider(RoutingTable.default(), default_queue="kelery"),
        dispatcher,
        LoopOptions(topics=[topic], max_records=count, summary_interval_s=3600),
    )
    stats = loop.run(_NeverStop())
    return Timing(dispatcher.count, dispatcher.last - dispatcher.first), stats


class _TimedLiveDispatcher(LiveDispatcher):
    """The real dispatcher, noting when the first record came and the last was handed on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first = 0.0
        self.last = 0.0

    def dispatch(self, decision: Decision, record: Message, done: Done) -> None:
        if self.first == 0.0:
            self.first = time.perf_counter()

        def timed_done() -> None:
            done()
            self.last = time.perf_counter()

        super().dispatch(decision, record, timed_done)


def kelery_loop_live(bootstrap: str, topic: str, count: int) -> Timing:
    """The same loop publishing for real to Kelery's Kafka transport, confirms on."""
    kafka = KafkaSettings(bootstrap_servers=[bootstrap])
    options = {"topic_prefix": f"{topic}.", "group_id": f"{topic}.workers", "partitions": 1}
    app = make_celery_app(celery_broker_config(None, options, kafka))
    stats = ConsumerStats()
    dispatcher = _TimedLiveDispatcher(
        app, Producer(client_config(kafka, "producer")), f"{topic}.speak", stats
    )
    loop = ConsumeLoop(
        Consumer(_consumer_config(bootstrap)),
        Decider(RoutingTable.default(), default_queue="kelery"),
        dispatcher,
        LoopOptions(topics=[topic], max_records=count, summary_interval_s=3600),
        stats,
    )
    loop.run(_NeverStop())
    return Timing(stats.records, dispatcher.last - dispatcher.first)


def decide_only(values: list[bytes]) -> Timing:
    """Decider.decide over the same values, in memory: the CPU cost of deciding."""
    decider = Decider(RoutingTable.default(), default_queue="kelery")
    start = time.perf_counter()
    for value in values:
        decider.decide(value)
    return Timing(len(values), time.perf_counter() - start)


def _markdown(
    *,
    bootstrap: str,
    count: int,
    bare: list[Timing],
    ours: list[Timing],
    pure: Timing,
    live: Timing | None,
) -> str:
    best_bare = max(bare, key=lambda t: t.rate)
    best_ours = max(ours, key=lambda t: t.rate)
    passed = best_ours.rate >= TARGET_RPS
    rows = [
        ("bare confluent-kafka `consume()` loop, read only", bare),
        ("kelery-consume loop: decode + validate + route, null dispatcher", ours),
        ("`Decider.decide` alone, in memory (no Kafka)", [pure]),
    ]
    if live is not None:
        rows.append(
            (
                "the same loop publishing every task to Kelery's Kafka transport "
                "(confirm per task), replies and DLQ copies to Kafka",
                [live],
            )
        )
    lines = [
        "## kelery-consume: records decoded, validated and routed per second",
        "",
        f"{count:,} chat records (70 % routed commands, 10 % unknown commands, 15 % plain "
        "chat, 5 % invalid) pre-produced to one fresh topic on the Kafka broker at "
        f"`{bootstrap}`, then read back in full by each loop with its own consumer group, "
        f"timed from the first record to the last; {ROUNDS} rounds, interleaved. The "
        "kelery-consume loop is the real `ConsumeLoop` (offset tracking and batched "
        "commits included) with a dispatcher that sends nothing, as `--dry-run` does.",
        "",
        "| path | round | records | seconds | records/s |",
        "|---|---|---:|---:|---:|",
    ]
    for name, timings in rows:
        for index, timing in enumerate(timings, 1):
            lines.append(
                f"| {name} | {index} | {timing.records:,} | {timing.seconds:.3f} "
                f"| {timing.rate:,.0f} |"
            )
    share = best_ours.rate / best_bare.rate * 100 if best_bare.rate else 0.0
    lines += [
        "",
        f"Best kelery-consume loop: **{best_ours.rate:,.0f} records/s** "
        f"({share:.1f} % of the bare loop's best, {best_bare.rate:,.0f} records/s, which mostly "
        "drains records librdkafka has already fetched: the difference is the Python cost of "
        "decoding, validating and routing). "
        f"Target: at least {TARGET_RPS:,} records/s: **{'PASS' if passed else 'FAIL'}**.",
        "",
        "The last row (when present) is for information, not part of the target: it "
        f"covers the first {live.records if live else 0:,} records, each task published and "
        "acknowledged by the broker before its offset may be committed.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; confluent-kafka "
        f"{confluent_kafka.__version__}, librdkafka {confluent_kafka.libversion()[0]}; "
        f"run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
    ]
    return "\n".join(lines)


def _delete_topics(admin: AdminClient, topic: str) -> None:
    """Delete the bench topic and every topic the run made from it (DLQ, speak, queue)."""
    names = [t for t in admin.list_topics(timeout=30).topics if t.startswith(topic)]
    for future in admin.delete_topics(names).values():
        future.result(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the markdown fragment here too")
    parser.add_argument("--records", type=int, default=50_000, help="records to read")
    parser.add_argument(
        "--live-records",
        type=int,
        default=5_000,
        help="records for the live-publishing row (0: skip it)",
    )
    args = parser.parse_args()
    bootstrap = os.environ.get("KELERY_BENCH_KAFKA") or os.environ.get("KELERY_TEST_KAFKA")
    if not bootstrap:
        print("set KELERY_BENCH_KAFKA (or KELERY_TEST_KAFKA) to host:port", file=sys.stderr)
        return 2
    topic = f"bench-consume-{uuid.uuid4().hex[:12]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(
        timeout=30
    )
    try:
        values = _records(args.records)
        print(f"producing {len(values):,} records to {topic}", file=sys.stderr)
        _produce(bootstrap, topic, values)
        bare, ours = [], []
        for round_ in range(1, ROUNDS + 1):
            print(f"round {round_}: bare loop", file=sys.stderr)
            bare.append(bare_loop(bootstrap, topic, len(values)))
            print(f"round {round_}: kelery-consume loop", file=sys.stderr)
            timing, stats = kelery_loop(bootstrap, topic, len(values))
            if stats.records != len(values):
                sys.exit(f"the loop handled {stats.records} of {len(values)} records")
            ours.append(timing)
        pure = decide_only(values)
        live = None
        if args.live_records > 0:
            print("live publishing to the Kafka transport", file=sys.stderr)
            live = kelery_loop_live(bootstrap, topic, min(args.live_records, len(values)))
    finally:
        _delete_topics(admin, topic)
    text = _markdown(
        bootstrap=bootstrap, count=len(values), bare=bare, ours=ours, pure=pure, live=live
    )
    print(text)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
