"""Benchmark: ``kelery-produce --count N --rate 0`` against a bare confluent-kafka loop.

Run as ``python packages/producer/bench/bench_produce.py --out FILE``. The broker
comes from ``KELERY_BENCH_KAFKA`` (else ``KELERY_TEST_KAFKA``).

Three sides, each producing N chat envelopes to a fresh one-partition topic on
the same broker with the same librdkafka configuration (``client_config``:
idempotent, ``acks=all``, the same ``linger.ms``), each checking every delivery
report; time runs from the first produce to the last delivery report:

1. ``kelery-produce``: the CLI's own code path run in-process
   (``cli.parse_args`` + ``cli.execute``, exactly what ``main`` runs, minus
   interpreter start-up), building a fresh envelope (uuid, timestamp) per record
   and enqueueing 256 records per ``produce_batch`` call.
2. bare loop, envelopes pre-built: the same envelopes serialised with
   ``ChatMessage.to_json_bytes`` *before* the clock starts, so this side only
   produces. The target compares against this one: the strictest baseline.
3. bare loop, envelope per record: what the seed did (``json.dumps`` of a dict
   with ``uuid4()`` and ``datetime.now()`` per record), for context.

Rounds alternate the order of the sides; the verdict uses the median over
rounds of side 1 / side 2 measured back to back, so load from other processes
on a shared machine hits both sides of a pair alike.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import confluent_kafka
from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient

from kelery.common.kafka_config import client_config
from kelery.common.schemas import ChatMessage
from kelery.common.settings import KafkaSettings, load_settings
from kelery.common.topics import TopicSpec, ensure_topics
from kelery.producer import cli
from kelery.producer.settings import ProducerSettings

TARGET = 0.80
POLL_EVERY = 256
CONTENT = "Hello Kafka! Producer online Here"


def broker_address() -> str:
    address = os.environ.get("KELERY_BENCH_KAFKA") or os.environ.get("KELERY_TEST_KAFKA")
    if not address:
        sys.exit("error: set KELERY_BENCH_KAFKA (or KELERY_TEST_KAFKA) to the broker, host:port")
    return address


def broker_version(bootstrap: str) -> str:
    """The Kafka version of a broker on this machine, read from its jars; else 'unknown'.

    Kafka does not report its version over the protocol, so this finds the
    process listening on the first bootstrap port and reads the version from the
    ``kafka-server-X.Y.Z.jar`` / ``kafka_2.13-X.Y.Z.jar`` on its class path.
    """
    port = bootstrap.split(",", maxsplit=1)[0].rsplit(":", 1)[-1]
    try:
        listing = subprocess.run(
            ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return "unknown (ss not available)"
    found = re.search(r"pid=(\d+)", listing)
    if not found:
        return "unknown (broker not on this machine)"
    proc = Path("/proc") / found[1]
    try:
        argv = (proc / "cmdline").read_bytes().split(b"\0")
        cwd = (proc / "cwd").resolve()
    except OSError:
        return "unknown (broker process not readable)"
    pattern = re.compile(r"kafka(?:-server|_2\.\d+)-(\d+\.\d+\.\d+)\.jar$")
    for index, arg in enumerate(argv[:-1]):
        if arg in (b"-cp", b"-classpath", b"--class-path"):
            for entry in argv[index + 1].decode(errors="replace").split(":"):
                for jar in (
                    cwd.glob(entry)
                    if not entry.startswith("/")
                    else Path("/").glob(entry.lstrip("/"))
                ):
                    if match := pattern.search(jar.name):
                        return match[1]
    return "unknown (no kafka jar on the broker's class path)"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}"


def _client_version() -> str:
    version = confluent_kafka.version()
    return version if isinstance(version, str) else str(version[0])


class Bench:
    def __init__(self, bootstrap: str, count: int) -> None:
        self.count = count
        self.settings = load_settings(
            ProducerSettings, kafka=KafkaSettings(bootstrap_servers=bootstrap.split(","))
        )
        self.admin = AdminClient(client_config(self.settings.kafka, "admin"))
        self.topics: list[str] = []
        self.prebuilt = [
            ChatMessage(content=CONTENT, source="kelery-produce").to_json_bytes()
            for _ in range(count)
        ]

    def topic(self) -> str:
        name = f"bench-produce-{uuid.uuid4().hex[:10]}"
        ensure_topics(self.admin, [TopicSpec(name, partitions=1)])
        self.topics.append(name)
        return name

    def kelery(self, topic: str, count: int | None = None) -> float:
        count = count or self.count
        args = cli.parse_args(["--count", str(count), "--rate", "0", "--quiet", "--topic", topic])
        result = cli.execute(args, self.settings, out=io.StringIO())
        if result.delivered != count or result.failed:
            raise RuntimeError(f"kelery-produce delivered {result.delivered} of {count}")
        return count / result.elapsed

    def _bare(self, topic: str, values: Callable[[int], bytes], count: int) -> float:
        producer = Producer(client_config(self.settings.kafka, "producer"))
        delivered = 0
        failed = 0

        def on_delivery(error: KafkaError | None, _message: Message) -> None:
            nonlocal delivered, failed
            if error is None:
                delivered += 1
            else:
                failed += 1

        producer.list_topics(topic, timeout=30)
        started = time.perf_counter()
        for i in range(count):
            value = values(i)
            while True:
                try:
                    producer.produce(topic, value, on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.05)
            if i % POLL_EVERY == 0:
                producer.poll(0)
        producer.flush(300)
        elapsed = time.perf_counter() - started
        if delivered != count:
            raise RuntimeError(f"bare loop delivered {delivered} of {count} ({failed} failed)")
        return count / elapsed

    def bare_prebuilt(self, topic: str, count: int | None = None) -> float:
        return self._bare(topic, self.prebuilt.__getitem__, count or self.count)

    def bare_per_record(self, topic: str, count: int | None = None) -> float:
        def envelope(_i: int) -> bytes:
            return json.dumps(
                {
                    "schema": "kelery.chat/1",
                    "uuid": str(uuid.uuid4()),
                    "content": CONTENT,
                    "timestamp": datetime.now(UTC).isoformat(),
                    "source": "kelery-produce",
                }
            ).encode()

        return self._bare(topic, envelope, count or self.count)

    def cleanup(self) -> None:
        if self.topics:
            for future in self.admin.delete_topics(self.topics, operation_timeout=30).values():
                try:
                    future.result(timeout=30)
                except Exception as exc:  # noqa: BLE001 - cleanup must not hide results
                    print(f"warning: could not delete a bench topic: {exc}", file=sys.stderr)


SIDES = ("kelery-produce", "bare loop, pre-built envelopes", "bare loop, json.dumps per record")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="markdown fragment to write")
    parser.add_argument("--count", type=int, default=200_000, help="records per run")
    parser.add_argument("--rounds", type=int, default=7, help="runs of each side")
    options = parser.parse_args()

    bootstrap = broker_address()
    bench = Bench(bootstrap, options.count)
    runners = {
        SIDES[0]: bench.kelery,
        SIDES[1]: bench.bare_prebuilt,
        SIDES[2]: bench.bare_per_record,
    }
    load_before = os.getloadavg()
    try:
        for run in runners.values():  # warm-up: connections, idempotent producer ids
            run(bench.topic(), 2_000)
        rates: dict[str, list[float]] = {side: [] for side in SIDES}
        for round_number in range(options.rounds):
            order = SIDES if round_number % 2 == 0 else tuple(reversed(SIDES))
            for side in order:
                rates[side].append(runners[side](bench.topic()))
                print(f"round {round_number + 1}: {side}: {rates[side][-1]:,.0f} msg/s",
                      file=sys.stderr)  # fmt: skip
    finally:
        bench.cleanup()
    load_after = os.getloadavg()

    paired = [ours / bare for ours, bare in zip(rates[SIDES[0]], rates[SIDES[1]], strict=True)]
    best_ratio = max(rates[SIDES[0]]) / max(rates[SIDES[1]])
    versus_seed = [o / s for o, s in zip(rates[SIDES[0]], rates[SIDES[2]], strict=True)]
    ratio = statistics.median(paired)
    verdict = "PASS" if ratio >= TARGET else "FAIL"
    header = "| side | " + " | ".join(f"round {i + 1}" for i in range(options.rounds))
    lines = [
        "## kelery-produce throughput vs a bare confluent-kafka loop",
        "",
        f"`kelery-produce --count {options.count} --rate 0` (the CLI's code path, "
        "`cli.parse_args` + `cli.execute`, run in-process) against a bare "
        f"confluent-kafka loop producing {options.count:,} chat envelopes of the same "
        "shape to the same broker with the same librdkafka config (`client_config`: "
        f"idempotent, acks=all, linger.ms={bench.settings.kafka.linger_ms:g}), each to a "
        "fresh 1-partition topic, every delivery report checked. Time: first produce "
        "to last delivery report. kelery-produce builds a fresh envelope (uuid4, "
        "timestamp) per record inside the timed run and enqueues 256 per `produce_batch` "
        "call (every record still gets its own delivery report); the strict baseline calls "
        "`produce` per record, its envelopes "
        "serialised before its clock starts; the seed-style loop builds each with "
        "json.dumps inside its run. Sides alternate order each round.",
        "",
        f"- machine: {machine()}; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after (shared machine)",
        f"- broker: Apache Kafka {broker_version(bootstrap)} at {bootstrap}; "
        f"confluent-kafka {_client_version()}, librdkafka "
        f"{confluent_kafka.libversion()[0]}; Python {platform.python_version()}",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        header + " | median |",
        "|---" * (options.rounds + 2) + "|",
    ]
    for side in SIDES:
        cells = " | ".join(f"{r:,.0f}" for r in rates[side])
        lines.append(f"| {side} (msg/s) | {cells} | {statistics.median(rates[side]):,.0f} |")
    lines.append(
        "| kelery-produce / pre-built | "
        + " | ".join(f"{r:.0%}" for r in paired)
        + f" | **{ratio:.0%}** |"
    )
    lines.append(
        "| kelery-produce / seed-style | "
        + " | ".join(f"{r:.0%}" for r in versus_seed)
        + f" | {statistics.median(versus_seed):.0%} |"
    )
    lines += [
        "",
        f"Target: kelery-produce ≥ {TARGET:.0%} of the bare loop with pre-built envelopes "
        f"(median of per-round ratios): **{ratio:.0%} — {verdict}**. Best run against "
        f"best run, the least disturbed by other load: {best_ratio:.0%}.",
        "",
    ]
    fragment = "\n".join(lines)
    options.out.write_text(fragment, encoding="utf-8")
    print(fragment)
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
