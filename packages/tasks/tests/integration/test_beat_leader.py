"""Two real beat processes: only the elected one fires; after kill -9 the other takes over."""

from __future__ import annotations

import json
import queue
import time

import pytest
from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]

pytestmark = pytest.mark.integration

WAIT_S = 90.0  # a safety net against hanging, not a speed claim
TICK_SCHEDULE = json.dumps({"tick": {"task": "kelery.ping", "every": 1}})


def _origin_pid(headers: dict[str, object]) -> int:
    """Celery stamps each task with ``origin`` = ``gen<pid>@<host>`` of the sender."""
    origin = str(headers["origin"])
    return int(origin.split("@", 1)[0].removeprefix("gen"))


def _wait_for_two_members(admin: AdminClient, group: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        description = admin.describe_consumer_groups([group])[group].result(timeout=30)
        if description.state == ConsumerGroupState.STABLE and len(description.members) == 2:
            return
        time.sleep(0.5)
    raise AssertionError(f"beat group {group} never had two stable members")


def test_only_the_leader_fires_and_the_other_takes_over_after_kill_9(tasks_stack, kafka) -> None:
    env = {"BEAT_SCHEDULE": TICK_SCHEDULE}
    beats = [tasks_stack.start_beat("beat-a", env), tasks_stack.start_beat("beat-b", env)]
    _wait_for_two_members(
        AdminClient({"bootstrap.servers": kafka}), tasks_stack.env["BEAT_LEADER_GROUP"]
    )

    with tasks_stack.app.connection_for_read() as connection:
        fired = connection.SimpleQueue(tasks_stack.settings.task_queue)

        def next_sender() -> int:
            message = fired.get(timeout=WAIT_S)
            message.ack()
            return _origin_pid(message.headers)

        # Forget what was sent while the group was still forming.
        while True:
            try:
                fired.get(timeout=0.2).ack()
            except queue.Empty:
                break

        senders = [next_sender() for _ in range(5)]
        assert len(set(senders)) == 1, f"two beats fired while both were alive: {senders}"
        leader = next(b for b in beats if b.pid == senders[0])
        follower = next(b for b in beats if b is not leader)
        assert "is now the leader" in leader.log()

        leader.kill()
        after_kill = next_sender()
        while after_kill == leader.pid:  # sent just before the kill
            after_kill = next_sender()
        assert after_kill == follower.pid
        assert [next_sender() for _ in range(3)] == [follower.pid] * 3
        assert "is now the leader" in follower.log()
        fired.close()
