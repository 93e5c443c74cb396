"""Two real beat processes: only the elected one fires; after kill -9 the other takes over.

The fired tasks are read straight from the queue's Kafka topic: each record has
Celery's ``origin`` header (``gen<pid>@<host>`` of the sender) and the time it
was produced, so the test knows who fired what, and when.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, ConsumerGroupState, TopicPartition
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

from kelery.common.dlq import header_value
from kelery.devkit.topics import unique_topic_name

pytestmark = pytest.mark.integration

WAIT_S = 90.0  # a safety net against hanging, not a speed claim
SETTLE_S = 1.0  # ignore sends racing the moment the group was seen stable
TICK_SCHEDULE = json.dumps({"tick": {"task": "kelery.ping", "every": 1}})


@dataclass(frozen=True)
class Fired:
    pid: int
    at: float  # the record's produce time, seconds since the epoch


class FiredTasks:
    """Every task record on the queue topic, with who sent it and when."""

    def __init__(self, kafka: str, topic: str) -> None:
        self.topic = topic
        self.seen: list[Fired] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": kafka,
                "group.id": unique_topic_name("beat-reader"),
                "enable.auto.commit": False,
            }
        )
        self._assigned = False

    def _assign(self) -> None:
        topics = self._consumer.list_topics(self.topic, timeout=30).topics
        partitions = topics[self.topic].partitions if self.topic in topics else {}
        if topics[self.topic].error is None and partitions:
            self._consumer.assign(
                [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in partitions]
            )
            self._assigned = True

    def wait_for(self, enough: Callable[[list[Fired]], bool], what: str) -> list[Fired]:
        deadline = time.monotonic() + WAIT_S
        while not enough(self.seen):
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up waiting for {what}; fired: {self.seen}")
            if not self._assigned:
                self._assign()
                time.sleep(0.2)
                continue
            record = self._consumer.poll(0.5)
            if record is None or record.error() is not None:
                continue
            origin = json.loads(header_value(record.headers(), "origin") or '""')
            _, millis = record.timestamp()
            pid = int(origin.split("@", 1)[0].removeprefix("gen"))
            self.seen.append(Fired(pid, millis / 1000))
        return sorted(self.seen, key=lambda fired: fired.at)

    def close(self) -> None:
        self._consumer.close()


def _wait_for_members(admin: AdminClient, group: str, count: int) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        description = admin.describe_consumer_groups([group])[group].result(timeout=30)
        if description.state == ConsumerGroupState.STABLE and len(description.members) == count:
            return
        time.sleep(0.5)
    raise AssertionError(f"beat group {group} never had {count} stable members")


def test_only_the_leader_fires_and_others_take_over(tasks_stack, kafka) -> None:
    """Three beats: one fires; kill -9 of it hands over; SIGTERM of the next hands over too."""
    env = {"BEAT_SCHEDULE": TICK_SCHEDULE}
    beats = [tasks_stack.start_beat(f"beat-{name}", env) for name in "abc"]
    admin = AdminClient({"bootstrap.servers": kafka})
    group = tasks_stack.env["BEAT_LEADER_GROUP"]
    _wait_for_members(admin, group, 3)
    all_alive_from = time.time() + SETTLE_S
    fired = FiredTasks(kafka, tasks_stack.queue_topic)

    def senders_after(moment: float, count: int, what: str) -> set[int]:
        seen = fired.wait_for(lambda s: sum(f.at > moment for f in s) >= count, what)
        return {f.pid for f in seen if f.at > moment}

    try:
        senders = senders_after(all_alive_from, 5, "5 ticks with three beats alive")
        assert len(senders) == 1, f"two beats fired while all were alive: {fired.seen}"
        first = next(b for b in beats if b.pid in senders)
        first.wait_for_log("is now the leader")

        first.kill()
        killed_at = time.time()
        senders = senders_after(killed_at, 3, "3 ticks after kill -9 of the leader")
        assert len(senders) == 1, f"two survivors fired: {fired.seen}"
        second = next(b for b in beats if b.pid in senders)
        assert second is not first
        second.wait_for_log("is now the leader")

        second.stop()  # SIGTERM: leaves the group, hands over without waiting for a timeout
        stopped_at = time.time()
        assert second.process.returncode == 0
        assert "no longer the leader (leaving the group)" in second.log()
        third = next(b for b in beats if b is not first and b is not second)
        assert senders_after(stopped_at, 3, "3 ticks after SIGTERM of the leader") == {third.pid}
        window = [f for f in fired.seen if all_alive_from < f.at <= killed_at]
        assert {f.pid for f in window} == {first.pid}
    finally:
        fired.close()
