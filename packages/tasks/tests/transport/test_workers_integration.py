"""Two real Celery workers on the real Kafka broker, through our transport.

The issue's proofs: both workers answer ``inspect ping`` (broadcast and replies
across processes); a record written by a plain confluent-kafka producer per the
contract is executed; two workers share 2,000 tasks; a poison task ends in the
DLQ; kill -9 of one worker mid-run with acks_late loses nothing. The kill test
runs last: it kills one of the module's workers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from types import ModuleType

import pytest
from confluent_kafka import Consumer, Producer

from kelery.common.dlq import ERROR_HEADER, ORIGIN_TOPIC_HEADER, dlq_topic_for, header_value

from .conftest import APP_MODULE, HERE, TransportEnv, kill_group, wait_until

pytestmark = pytest.mark.integration

WORKERS = ("w1", "w2")


@pytest.fixture(scope="module")
def app_module(transport_env: TransportEnv) -> ModuleType:
    return transport_env.load_app()


@pytest.fixture(scope="module")
def workers(
    transport_env: TransportEnv, app_module: ModuleType
) -> dict[str, subprocess.Popen[bytes]]:
    """Two prefork workers, both answering ping (stopped by transport_env's teardown)."""
    started = {name: transport_env.start_worker(name) for name in WORKERS}
    app = app_module.app

    def both_answer() -> bool:
        replies = app.control.inspect(timeout=2.0).ping() or {}
        return {name.split("@")[0] for name in replies} >= set(WORKERS)

    wait_until(both_answer, "both workers to answer ping")
    return started


def _ping_names(replies: dict[str, object] | None) -> set[str]:
    return {name.split("@")[0] for name in (replies or {})}


def test_inspect_ping_answers_from_both_workers(
    transport_env: TransportEnv, workers: dict[str, subprocess.Popen[bytes]]
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            APP_MODULE,
            "inspect",
            "ping",
            "--timeout",
            "5",
            "--json",
        ],
        cwd=HERE,
        env=transport_env.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    replies = json.loads(result.stdout.strip().splitlines()[-1])
    assert _ping_names(replies) == set(WORKERS)
    assert all(reply == {"ok": "pong"} for reply in replies.values())


class _BothSeenError(Exception):
    pass


def test_worker_heartbeats_reach_an_event_receiver(
    app_module: ModuleType, workers: dict[str, subprocess.Popen[bytes]]
) -> None:
    """``celery events`` and Flower read this stream: the celeryev topic exchange."""
    app = app_module.app
    seen: set[str] = set()

    def on_event(event: dict[str, object]) -> None:
        if event.get("type") == "worker-heartbeat":
            seen.add(str(event.get("hostname", "")).split("@")[0])
        if seen >= set(WORKERS):
            raise _BothSeenError

    with app.connection_for_read() as connection:
        receiver = app.events.Receiver(connection, handlers={"*": on_event})
        with pytest.raises(_BothSeenError):
            receiver.capture(limit=None, timeout=60)
    assert seen == set(WORKERS)


def test_plain_confluent_kafka_record_is_executed(
    transport_env: TransportEnv, workers: dict[str, subprocess.Popen[bytes]]
) -> None:
    """The documented contract: value = Celery's JSON body, headers as Kafka headers."""
    tag = f"plain-{uuid.uuid4().hex[:6]}"
    task_id = str(uuid.uuid4())
    body = json.dumps(
        [[tag, 7], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
    )
    producer = Producer({"bootstrap.servers": transport_env.bootstrap})
    producer.produce(
        transport_env.topic("tq"),
        key=task_id.encode(),
        value=body.encode(),
        headers=[
            ("content-type", b"application/json"),
            ("content-encoding", b"utf-8"),
            ("task", b'"ktt.record"'),
            ("id", json.dumps(task_id).encode()),
            ("lang", b'"py"'),
            ("root_id", json.dumps(task_id).encode()),
        ],
    )
    assert producer.flush(30) == 0
    wait_until(lambda: sum(transport_env.executions(tag).values()) >= 1, "the plain record to run")
    assert {n for n, _ in transport_env.executions(tag)} == {7}


def test_two_workers_share_2000_tasks(
    transport_env: TransportEnv, app_module: ModuleType, workers: dict[str, subprocess.Popen[bytes]]
) -> None:
    tag = f"share-{uuid.uuid4().hex[:6]}"
    total = 2000
    for n in range(total):
        app_module.record.delay(tag, n)

    def all_ran() -> bool:
        return {n for n, _ in transport_env.executions(tag)} >= set(range(total))

    wait_until(all_ran, "all 2,000 tasks to run")
    counts = transport_env.executions(tag)
    per_worker = {name: sum(c for (_, w), c in counts.items() if w == name) for name in WORKERS}
    executed = {n for n, _ in counts}
    duplicates = sum(counts.values()) - total
    print(f"per worker: {per_worker}, duplicates: {duplicates}")
    assert executed == set(range(total))
    assert all(per_worker[name] > 0 for name in WORKERS), per_worker
    assert sum(per_worker.values()) == total + duplicates


def _read_all(bootstrap: str, topic: str, expected: int) -> list[object]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"ktt-dlq-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    records: list[object] = []
    try:
        wait_until(
            lambda: (
                bool(
                    records.extend(
                        m for m in consumer.consume(100, timeout=0.5) if m.error() is None
                    )
                )
                or len(records) >= expected
            ),
            f"{expected} record(s) in {topic}",
        )
    finally:
        consumer.close()
    return records


def test_poison_and_unknown_tasks_end_in_the_dlq(
    transport_env: TransportEnv, app_module: ModuleType, workers: dict[str, subprocess.Popen[bytes]]
) -> None:
    tag = f"poison-{uuid.uuid4().hex[:6]}"
    poisoned = app_module.poison.delay(tag)
    unknown = app_module.app.send_task("ktt.no_such_task", args=[tag], queue="tq")
    raw = Producer({"bootstrap.servers": transport_env.bootstrap})
    raw.produce(transport_env.topic("tq"), value=b"not a task", headers=[("note", tag.encode())])
    assert raw.flush(30) == 0

    records = _read_all(transport_env.bootstrap, dlq_topic_for(transport_env.topic("tq")), 3)
    by_reason = {}
    for record in records:
        headers = record.headers()  # type: ignore[attr-defined]
        assert header_value(headers, ORIGIN_TOPIC_HEADER) == transport_env.topic("tq")
        by_reason[header_value(headers, "id") or header_value(headers, "note")] = header_value(
            headers, ERROR_HEADER
        )
    assert f'"{poisoned.id}"' in by_reason
    assert "rejected" in (by_reason[f'"{poisoned.id}"'] or "")
    assert f'"{unknown.id}"' in by_reason
    assert tag in by_reason
    assert "content-type" in (by_reason[tag] or "")
    # a poison task is never executed, and the workers keep working
    assert transport_env.executions(tag) == {}


def test_retry_with_countdown_and_eta_run_later(
    transport_env: TransportEnv, app_module: ModuleType, workers: dict[str, subprocess.Popen[bytes]]
) -> None:
    tag = f"retry-{uuid.uuid4().hex[:6]}"
    app_module.retry_once.delay(tag, 1)
    app_module.record.apply_async((tag, 2), countdown=1)
    wait_until(lambda: {n for n, _ in transport_env.executions(tag)} == {1, 2}, "retry and eta")
    counts = transport_env.executions(tag)
    assert sum(c for (n, _), c in counts.items() if n == 1) == 1  # one successful attempt
    assert sum(c for (n, _), c in counts.items() if n == 2) == 1


def test_a_lost_pool_process_requeues_its_task(
    transport_env: TransportEnv, app_module: ModuleType, workers: dict[str, subprocess.Popen[bytes]]
) -> None:
    """task_reject_on_worker_lost: the child dies, Celery rejects with requeue, it runs again."""
    tag = f"lost-{uuid.uuid4().hex[:6]}"
    app_module.die_once.delay(tag, 1)
    wait_until(lambda: bool(transport_env.executions(tag)), "the requeued task to run")
    assert {n for n, _ in transport_env.executions(tag)} == {1}


def test_kill_9_of_one_worker_with_acks_late_loses_nothing(
    transport_env: TransportEnv, app_module: ModuleType, workers: dict[str, subprocess.Popen[bytes]]
) -> None:
    tag = f"kill-{uuid.uuid4().hex[:6]}"
    total = 400
    for n in range(total):
        app_module.record.delay(tag, n, 0.02)

    def victim_ran_some() -> bool:
        return sum(c for (_, w), c in transport_env.executions(tag).items() if w == "w1") >= 10

    wait_until(victim_ran_some, "w1 to run some tasks")
    kill_group(workers["w1"])
    workers["w1"].wait(30)
    done_at_kill = {n for n, _ in transport_env.executions(tag)}
    assert len(done_at_kill) < total, "the kill came after the run; nothing was tested"

    wait_until(
        lambda: {n for n, _ in transport_env.executions(tag)} >= set(range(total)),
        "every task to run after the kill",
    )
    counts = transport_env.executions(tag)
    duplicates = sum(counts.values()) - total
    print(f"done at kill: {len(done_at_kill)}, duplicates: {duplicates}")
    assert {n for n, _ in counts} == set(range(total))
    assert any(w == "w2" for (_, w) in counts)
