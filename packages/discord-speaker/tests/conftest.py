"""Fixtures for the speaker's integration tests: the real bot as a subprocess.

The speaker runs as ``python -m kelery.discord_speaker`` (exactly what the CLI
runs), against the session's real Kafka (``kafka`` fixture of the devkit plugin,
which honours ``KELERY_TEST_KAFKA``) and a fresh fake Discord per test (the
devkit's ``fake_discord`` fixture). Every
process started here is stopped in teardown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from kelery.common.schemas import SpeakMessage
from kelery.devkit.fake_discord import FakeDiscord

STOP_TIMEOUT_S = 30.0


@dataclass
class SpeakerProcess:
    """One running ``kelery-discord-speaker`` and where its log goes."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=STOP_TIMEOUT_S)


@dataclass
class SpeakerWorld:
    """The topic, group, fake Discord and processes of one test."""

    kafka: str
    topic: str
    group_id: str
    fake: FakeDiscord
    workdir: Path
    processes: list[SpeakerProcess] = field(default_factory=list)
    _producer: Producer | None = None

    @property
    def dlq_topic(self) -> str:
        return self.topic + ".dlq"

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("KAFKA_", "DISCORD_", "SPEAKER_", "LOG_"))
        }
        env.update(
            KAFKA_BOOTSTRAP_SERVERS=self.kafka,
            SPEAK_TOPIC=self.topic,
            SPEAKER_GROUP_ID=self.group_id,
            SPEAKER_POLL_TIMEOUT_SECONDS="0.2",
            DISCORD_API_BASE=self.fake.api_base,
            ANNOUNCEMENT_CHANNEL_ID=str(self.fake.channel_id("announcements")),
            LOG_LEVEL="INFO",
        )
        env.update(extra)
        return env

    def start(self, **extra_env: str) -> SpeakerProcess:
        """Start a speaker; its output goes to a log file in the test's tmp dir."""
        log_path = self.workdir / f"speaker-{len(self.processes)}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "kelery.discord_speaker"],
                env=self.env(**extra_env),
                cwd=self.workdir,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        speaker = SpeakerProcess(process, log_path)
        self.processes.append(speaker)
        return speaker

    def producer(self) -> Producer:
        if self._producer is None:
            self._producer = Producer({"bootstrap.servers": self.kafka, "linger.ms": 0})
        return self._producer

    def produce(self, *messages: SpeakMessage | bytes) -> None:
        """Put records on the speak topic and wait until the broker has them."""
        producer = self.producer()
        for message in messages:
            value = message if isinstance(message, bytes) else message.to_json_bytes()
            producer.produce(self.topic, value=value, key=b"k")
        assert producer.flush(30) == 0

    def committed(self, partition: int = 0) -> int:
        """The group's committed offset on ``partition`` (-1001 when none)."""
        consumer = Consumer({"bootstrap.servers": self.kafka, "group.id": self.group_id})
        try:
            (tp,) = consumer.committed([TopicPartition(self.topic, partition)], timeout=30)
            return int(tp.offset)
        finally:
            consumer.close()

    def read_dlq(self, count: int) -> list[tuple[bytes | None, dict[str, str]]]:
        """Read ``count`` records from the DLQ topic: (value, headers as text)."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.kafka,
                "group.id": f"dlq-reader-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.subscribe([self.dlq_topic])
        found: list[tuple[bytes | None, dict[str, str]]] = []
        try:
            for _ in range(300):
                if len(found) >= count:
                    break
                record = consumer.poll(0.2)
                if record is None or record.error() is not None:
                    continue
                headers = {
                    key: (value or b"").decode("utf-8", "replace")
                    for key, value in (record.headers() or [])
                }
                found.append((record.value(), headers))
        finally:
            consumer.close()
        return found


@pytest.fixture
def speaker_world(
    kafka: str, unique_topic: str, fake_discord: FakeDiscord, tmp_path: Path
) -> Iterator[SpeakerWorld]:
    """Everything one speaker test needs; every speaker started is stopped afterwards."""
    world = SpeakerWorld(
        kafka=kafka,
        topic=unique_topic,
        group_id=f"g-{unique_topic}",
        fake=fake_discord,
        workdir=tmp_path,
    )
    yield world
    for speaker in world.processes:
        if speaker.process.poll() is None:
            speaker.process.kill()
            speaker.process.wait(timeout=STOP_TIMEOUT_S)
    if world._producer is not None:
        world._producer.flush(5)
