"""Helpers for the consumer's tests: a real on-disk Celery broker, Kafka I/O, the CLI.

The Kafka broker and unique topic names come from kelery-devkit's pytest plugin
(``kafka``, ``unique_topic``). Celery tasks are published to kombu's
``filesystem://`` transport, a real broker shared between processes through a
folder, and read back with kombu exactly as a worker would receive them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from kombu import Connection

from kelery.common.contracts import DEFAULT_QUEUE
from kelery.devkit.waiting import wait_until

WAIT_S = 60.0


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """The devkit's poll, checking often: a consumer's progress is fast to see."""
    wait_until(predicate, what, timeout, interval=0.02)


@dataclass(frozen=True)
class PublishedTask:
    """One task message as a worker would receive it."""

    name: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue_file: str


@dataclass(frozen=True)
class FilesystemBroker:
    """kombu's filesystem transport in a folder: URL, options, and a reader."""

    folder: Path

    url = "filesystem://"

    @property
    def options(self) -> dict[str, Any]:
        return {
            "data_folder_in": str(self.folder),
            "data_folder_out": str(self.folder),
            "control_folder": str(self.folder / "control"),
            "processed_folder": str(self.folder / "processed"),
            "store_processed": False,
        }

    def message_count(self) -> int:
        """Task messages waiting in the broker (one file each)."""
        return sum(1 for entry in os.scandir(self.folder) if entry.name.endswith(".msg"))

    def remove_torn(self) -> int:
        """Delete message files a ``kill -9`` cut short mid-write; return how many.

        The filesystem transport writes a file in place, so a publisher killed
        inside ``send_task`` can leave an empty or partial file. Such a publish
        never returned, so its record was never committed and is sent again
        after restart: the torn file is not a task a worker could ever receive.
        """
        torn = 0
        for entry in os.scandir(self.folder):
            if not entry.name.endswith(".msg"):
                continue
            try:
                json.loads(Path(entry.path).read_bytes())
            except ValueError:
                Path(entry.path).unlink()
                torn += 1
        return torn

    def drain(self, queue: str = DEFAULT_QUEUE) -> list[PublishedTask]:
        """Receive (and ack) every task message waiting in ``queue``."""
        tasks = []
        with Connection(self.url, transport_options=self.options) as conn:
            simple = conn.SimpleQueue(queue)
            try:
                while True:
                    try:
                        message = simple.get(block=False)
                    except simple.Empty:
                        break
                    args, kwargs, _embed = message.payload
                    tasks.append(PublishedTask(message.headers["task"], args, kwargs, queue))
                    message.ack()
            finally:
                simple.close()
        return tasks


@pytest.fixture
def fs_broker(tmp_path: Path) -> FilesystemBroker:
    folder = tmp_path / "celery-broker"
    folder.mkdir()
    return FilesystemBroker(folder)


def produce(
    kafka: str, topic: str, values: Iterable[bytes | None], key: bytes | None = None
) -> int:
    """Produce ``values`` in order and check every delivery report; return the count."""
    failures: list[str] = []

    def report(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error.str())

    producer = Producer({"bootstrap.servers": kafka, "enable.idempotence": True, "linger.ms": 5})
    count = 0
    for value in values:
        producer.produce(topic, value=value, key=key, on_delivery=report)
        producer.poll(0)
        count += 1
    assert producer.flush(30) == 0, "records still in flight after 30 s"
    assert not failures, failures
    return count


def read_topic(kafka: str, topic: str, count: int) -> list[Message]:
    """Read ``count`` records from the start of ``topic`` with a throw-away group."""
    consumer = Consumer(
        {
            "bootstrap.servers": kafka,
            "group.id": f"reader-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records: list[Message] = []
    deadline = time.monotonic() + WAIT_S
    try:
        while len(records) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"only {len(records)} of {count} records arrived on {topic}")
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                records.append(message)
    finally:
        consumer.close()
    return records


def committed(kafka: str, group: str, topic: str, partitions: int = 1) -> list[int]:
    """The group's committed offsets for ``topic`` (-1001 when none)."""
    consumer = Consumer({"bootstrap.servers": kafka, "group.id": group})
    try:
        result = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=30
        )
    finally:
        consumer.close()
    return [tp.offset for tp in result]


@dataclass
class ConsumerCli:
    """Runs ``kelery-consume`` as a real subprocess with a given environment."""

    env: dict[str, str]
    cwd: Path
    started: list[subprocess.Popen[str]]

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "kelery.consumer.cli", *args]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str) -> Running:
        """Start it in the background, output to a file (a pipe nobody reads could block it).

        The fixture kills it at teardown if it is still running.
        """
        log = self.cwd / f"kelery-consume-{len(self.started)}.log"
        with log.open("w", encoding="utf-8") as out:
            process = subprocess.Popen(
                self.command(*args),
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.started.append(process)
        return Running(process, log)


@dataclass(frozen=True)
class Running:
    """A background ``kelery-consume`` and the file its output goes to."""

    process: subprocess.Popen[str]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8")


def base_env(**extra: str) -> dict[str, str]:
    """The parent environment minus anything Kelery reads, plus ``extra``."""
    prefixes = ("KAFKA_", "CONSUMER_", "CELERY_", "LOG_", "COMMANDS_TOPIC", "SPEAK_TOPIC")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(prefixes)}
    env.update(extra)
    return env


@pytest.fixture
def cli_factory(tmp_path: Path) -> Iterator[Callable[..., ConsumerCli]]:
    """Make CLIs; every process started through them is killed at teardown if still alive."""
    started: list[subprocess.Popen[str]] = []

    def make(**env: str) -> ConsumerCli:
        return ConsumerCli(base_env(**env), tmp_path, started)

    yield make
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def consumer_env(kafka: str, topic: str, broker: FilesystemBroker, **extra: str) -> dict[str, str]:
    """Environment for a consumer of ``topic`` publishing to ``broker``."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "CONSUMER_TOPICS": topic,
        "CONSUMER_GROUP_ID": f"{topic}.group",
        "SPEAK_TOPIC": f"{topic}.speak",
        "CELERY_BROKER_URL": broker.url,
        "CELERY_BROKER_TRANSPORT_OPTIONS": json.dumps(broker.options),
    }
    env.update(extra)
    return env
