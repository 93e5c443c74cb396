"""Commit-after-dispatch on the real broker: an unpublished task is never committed, and
a partition handed to another consumer is committed first, so nothing is done twice."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from kelery.common.contracts import CHAT_TASKS
from kelery.common.schemas import ChatMessage
from kelery.devkit.pytest_plugin import TopicFactory

from .conftest import ConsumerCli, FilesystemBroker, committed, consumer_env, produce, wait_for

pytestmark = pytest.mark.integration

CliFactory = Callable[..., ConsumerCli]


UNREACHABLE_CELERY_BROKER = "amqp://guest:guest@127.0.0.1:9//"


def _retrying_while_the_broker_is_away(
    kafka: str,
    topic: str,
    fs_broker: FilesystemBroker,
    cli_factory: CliFactory,
    until: str,
    **env: str,
) -> str:
    """Run kelery-consume on one ``!ping`` with a Celery broker nobody answers at.

    Waits for ``until`` in its output (a retry message), stops it with SIGTERM,
    checks it exits 0, and returns its output.
    """
    produce(kafka, topic, [ChatMessage(content="!ping", uuid="p1").to_json_bytes()])
    down = cli_factory(
        **consumer_env(
            kafka,
            topic,
            fs_broker,
            CELERY_BROKER_URL=UNREACHABLE_CELERY_BROKER,
            CELERY_BROKER_TRANSPORT_OPTIONS="{}",
            **env,
        )
    )
    running = down.start()
    wait_for(lambda: until in running.output(), f"{until!r} in the output")
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(timeout=60) == 0, running.output()
    return running.output()


def test_nothing_is_committed_while_the_celery_broker_refuses_tasks(
    kafka: str, unique_topic: str, fs_broker: FilesystemBroker, cli_factory: CliFactory
) -> None:
    output = _retrying_while_the_broker_is_away(
        kafka, unique_topic, fs_broker, cli_factory, until="retrying in"
    )
    assert "could not publish task kelery.ping" in output
    # -1001: never committed; 0: "resume at the first record". Either way nothing is lost.
    assert committed(kafka, f"{unique_topic}.group", unique_topic)[0] in (-1001, 0)

    up = cli_factory(**consumer_env(kafka, unique_topic, fs_broker))
    result = up.run("--stop-at-end")

    assert result.returncode == 0, result.stderr
    assert [t.name for t in fs_broker.drain()] == [CHAT_TASKS["ping"]]
    assert committed(kafka, f"{unique_topic}.group", unique_topic) == [1]


def test_a_publish_retried_longer_than_max_poll_interval_keeps_the_group_membership(
    kafka: str, unique_topic: str, fs_broker: FilesystemBroker, cli_factory: CliFactory
) -> None:
    """While the Celery broker is away the loop keeps calling consume(), partitions paused.

    max.poll.interval.ms is set to librdkafka's minimum-compatible 6 s; the retry
    backoff (0.5 + 1 + 2 + 4 + 8 s) outlasts it twice before the stop.
    """
    output = _retrying_while_the_broker_is_away(
        kafka,
        unique_topic,
        fs_broker,
        cli_factory,
        until="retrying in 16.0 s",  # 15.5 s of retries
        KAFKA_EXTRA='{"max.poll.interval.ms": 6000, "session.timeout.ms": 6000}',
    )
    assert "maximum poll interval" not in output
    assert " lost " not in output
    assert "commit failed" not in output


def test_revoked_partitions_are_committed_before_another_consumer_takes_them(
    kafka: str,
    topic_factory: TopicFactory,
    fs_broker: FilesystemBroker,
    cli_factory: CliFactory,
) -> None:
    topic = topic_factory(2)
    total = 40
    for key in (b"a", b"b", b"c", b"d"):
        produce(
            kafka,
            topic,
            (ChatMessage(content="!ping").to_json_bytes() for _ in range(total // 4)),
            key=key,
        )
    # The first consumer never commits on its own: only a revoke (or exit) can commit.
    env = consumer_env(
        kafka,
        topic,
        fs_broker,
        CONSUMER_COMMIT_BATCH_SIZE="100000",
        CONSUMER_COMMIT_INTERVAL_S="3600",
    )
    first = cli_factory(**env).start()
    wait_for(lambda: fs_broker.message_count() == total, "the first consumer to publish all")

    second = cli_factory(**env).run("--stop-at-end")

    assert second.returncode == 0, second.stderr
    assert "revoked" in first.output()
    assert "final: records=0 " in second.stderr, second.stderr
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(timeout=60) == 0, first.output()
    assert len(fs_broker.drain()) == total
    assert sum(committed(kafka, f"{topic}.group", topic, partitions=2)) == total
