"""Real processes for the app's integration tests: celery workers and beats on real Kafka.

Each test module gets its own topics (speak, stats, beat leader), queue and
broker folder, so engineers sharing the broker never read each other's records.
Everything runs on the real Kafka broker from the devkit plugin's ``kafka``
fixture: Celery's broker (Kelery's Kafka transport, the app's default), the
answers, the counts and the beat election.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition

from kelery.common.contracts import REPLY_TO_KWARG, ReplyTo
from kelery.common.dlq import dlq_topic_for, header_value
from kelery.common.schemas import SpeakMessage, decode_speak_message
from kelery.devkit.topics import unique_topic_name
from kelery.devkit.waiting import wait_until
from kelery.tasks.context import KeleryApp
from kelery.tasks.factory import create_app
from kelery.tasks.settings import TasksSettings

WAIT_S = 90.0  # a safety net against hanging, not a speed claim
STOP_S = 20.0


@dataclass
class CeleryProcess:
    """A celery worker or beat started by a test; stopped (or killed) in teardown."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, needle: str) -> None:
        """Wait until the log holds `needle`: a process logs some lines after the
        effect a test observes on Kafka (Celery's trace line follows the task's
        answer), so reading the log at once would race with the process."""
        try:
            wait_until(lambda: needle in self.log(), f"{needle!r} in {self.name}'s log", WAIT_S)
        except AssertionError as gave_up:
            raise AssertionError(f"{gave_up}; its log ends:\n{self.log()[-3000:]}") from None

    def kill(self) -> None:
        """kill -9: no cleanup, no goodbye to the group."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(STOP_S)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_S)


@dataclass
class TasksStack:
    """One isolated Kelery tasks setup: env, app for sending, speak-topic reader."""

    kafka: str
    workdir: Path
    env: dict[str, str]
    app: KeleryApp
    processes: list[CeleryProcess] = field(default_factory=list)
    _speak: Consumer | None = None
    _seen: list[SpeakMessage] = field(default_factory=list)

    @property
    def settings(self) -> TasksSettings:
        return self.app.kelery.settings

    @property
    def queue_topic(self) -> str:
        """The Kafka topic of the app's task queue (the transport prefixes queue names)."""
        prefix = self.settings.celery_broker_transport_options.get("topic_prefix", "")
        return f"{prefix}{self.settings.task_queue}"

    def _start(
        self, name: str, *argv: str, extra_env: dict[str, str] | None = None
    ) -> CeleryProcess:
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "kelery.tasks.app", *argv],
                cwd=self.workdir,
                env={**self.env, **(extra_env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        started = CeleryProcess(name, process, log_path)
        self.processes.append(started)
        return started

    def start_worker(self, name: str = "w1") -> CeleryProcess:
        # prefork with one child: the producer must be made after the fork.
        return self._start(
            name,
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            f"--hostname={name}@%h",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=INFO",
        )

    def start_beat(self, name: str, extra_env: dict[str, str] | None = None) -> CeleryProcess:
        return self._start(name, "beat", "--loglevel=INFO", extra_env=extra_env)

    def reply_to(self, channel_id: str, message_id: str = "m-1") -> dict[str, Any]:
        reply_to = ReplyTo(channel_id=channel_id, in_reply_to=message_id, author_name="ada")
        return reply_to.model_dump()

    def send_command(
        self, task: str, *args: str, channel_id: str, extra: dict[str, Any] | None = None
    ) -> str:
        """Send ``task`` as kelery-consume does: the words, ``reply_to`` and ``extra`` kwargs."""
        kwargs = {REPLY_TO_KWARG: self.reply_to(channel_id), **(extra or {})}
        result = self.app.send_task(task, args=list(args), kwargs=kwargs)
        return str(result.id)

    def _reader(self) -> Consumer:
        if self._speak is None:
            self._speak = Consumer(
                {
                    "bootstrap.servers": self.kafka,
                    "group.id": unique_topic_name("reader"),
                    "enable.auto.commit": False,
                }
            )
            self._speak.assign([TopicPartition(self.settings.speak_topic, 0, OFFSET_BEGINNING)])
        return self._speak

    def wait_speak(self, matches: Callable[[SpeakMessage], bool], what: str) -> SpeakMessage:
        """The first answer on the speak topic that ``matches`` (kept ones first)."""
        for message in self._seen:
            if matches(message):
                return message
        reader = self._reader()
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            record = reader.poll(0.5)
            if record is None or record.error() is not None:
                continue
            message = decode_speak_message(record.value())
            self._seen.append(message)
            if matches(message):
                return message
        logs = "\n".join(f"--- {p.name}\n{p.log()[-3000:]}" for p in self.processes)
        raise AssertionError(f"no answer {what} on {self.settings.speak_topic}\n{logs}")

    def wait_dead_letter(self, task_id: str) -> Message:
        """The record of task ``task_id`` on the queue's DLQ topic (read from its start)."""
        dlq = dlq_topic_for(self.queue_topic)
        reader = Consumer({"bootstrap.servers": self.kafka, "group.id": unique_topic_name("dlq")})
        try:
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline:
                if dlq not in reader.list_topics(timeout=10).topics:
                    time.sleep(0.5)
                    continue
                if not reader.assignment():
                    reader.assign([TopicPartition(dlq, 0, OFFSET_BEGINNING)])
                record = reader.poll(0.5)
                if (
                    record is not None
                    and record.error() is None
                    and header_value(record.headers(), "id") == f'"{task_id}"'
                ):
                    return record
        finally:
            reader.close()
        logs = "\n".join(f"--- {p.name}\n{p.log()[-3000:]}" for p in self.processes)
        raise AssertionError(f"task {task_id} never reached {dlq}\n{logs}")

    def answer_to(self, task_id: str) -> SpeakMessage:
        return self.wait_speak(lambda m: m.task_id == task_id, f"for task {task_id}")

    def close(self) -> None:
        for process in self.processes:
            process.stop()
        if self._speak is not None:
            self._speak.close()
        self.app.close()


def stack_env(kafka: str, workdir: Path, hint: str) -> dict[str, str]:
    prefix = unique_topic_name(hint)
    (workdir / "results").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "KAFKA_", "BEAT_"))}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            # Celery's broker: Kelery's Kafka transport (the default), own group and topics.
            "CELERY_BROKER_TRANSPORT_OPTIONS": json.dumps(
                {"group_id": unique_topic_name(f"{hint}-workers"), "topic_prefix": f"{prefix}."}
            ),
            "CELERY_RESULT_BACKEND": f"file://{workdir / 'results'}",
            "TASK_QUEUE": unique_topic_name(f"{hint}-queue"),
            "SPEAK_TOPIC": unique_topic_name(f"{hint}-speak"),
            "STATS_TOPIC": unique_topic_name(f"{hint}-stats"),
            "BEAT_LEADER_TOPIC": unique_topic_name(f"{hint}-leader"),
            "BEAT_LEADER_GROUP": unique_topic_name(f"{hint}-beat"),
            "ANNOUNCEMENT_CHANNEL_ID": "4242",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> TasksSettings:
    with monkeypatch.context() as patch:
        for name, value in env.items():
            if name.startswith(("CELERY_", "KAFKA_", "BEAT_", "TASK_", "SPEAK_", "STATS_")):
                patch.setenv(name, value)
        return TasksSettings()


@pytest.fixture(scope="module")
def tasks_stack(
    kafka: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[TasksStack]:
    """An isolated env and sending app for one test module (no processes started yet)."""
    workdir = tmp_path_factory.mktemp("tasks")
    env = stack_env(kafka, workdir, request.module.__name__.rsplit(".", 1)[-1])
    with pytest.MonkeyPatch.context() as patch:
        settings = settings_from(env, patch)
    stack = TasksStack(kafka, workdir, env, create_app(settings))
    try:
        yield stack
    finally:
        stack.close()
