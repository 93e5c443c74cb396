"""kelery-consume against the real Kafka broker, publishing to a real Celery broker.

Each test runs the CLI as a subprocess, as an operator would, on topics and a
consumer group no other test uses.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Callable

import pytest
from confluent_kafka.admin import AdminClient

from kelery.common.contracts import CHAT_TASKS, RECORD_MESSAGE_TASK, REPLY_TO_KWARG
from kelery.common.dlq import (
    ERROR_HEADER,
    ORIGIN_OFFSET_HEADER,
    ORIGIN_PARTITION_HEADER,
    ORIGIN_TOPIC_HEADER,
    STAGE_HEADER,
    header_value,
)
from kelery.common.schemas import ChatMessage, decode_speak_message

from .conftest import (
    ConsumerCli,
    FilesystemBroker,
    committed,
    consumer_env,
    produce,
    read_topic,
    wait_for,
)

pytestmark = pytest.mark.integration

CliFactory = Callable[..., ConsumerCli]


def test_routes_commands_answers_unknown_ones_and_reads_the_seed_shapes(
    kafka: str, unique_topic: str, fs_broker: FilesystemBroker, cli_factory: CliFactory
) -> None:
    ping = ChatMessage(content="!ping", channel_id="100", author_name="ada", source="test")
    records = [
        ping.to_json_bytes(),
        # the seed listener's shape
        json.dumps(
            {"uuid": "seed-l", "content": '!echo a "b c"', "author_id": 5, "channel_id": 200}
        ).encode(),
        # the seed producer's shape
        json.dumps(
            {"uuid": "seed-p", "content": "!stats", "timestamp": "2024-05-01T12:00:00"}
        ).encode(),
        ChatMessage(content="!dance", channel_id="300", uuid="dance-1").to_json_bytes(),
        ChatMessage(content="just chatting", channel_id="400", uuid="plain-1").to_json_bytes(),
    ]
    produce(kafka, unique_topic, records)
    cli = cli_factory(**consumer_env(kafka, unique_topic, fs_broker))

    result = cli.run("--stop-at-end", "--plain-task", RECORD_MESSAGE_TASK)

    assert result.returncode == 0, result.stderr
    tasks = {task.name: task for task in fs_broker.drain()}
    assert sorted(tasks) == sorted(
        [CHAT_TASKS["ping"], CHAT_TASKS["echo"], CHAT_TASKS["stats"], RECORD_MESSAGE_TASK]
    )
    assert tasks[CHAT_TASKS["ping"]].kwargs[REPLY_TO_KWARG] == {
        "channel_id": "100",
        "in_reply_to": ping.uuid,
        "author_name": "ada",
    }
    assert tasks[CHAT_TASKS["echo"]].args == ["a", "b c"]
    assert tasks[CHAT_TASKS["echo"]].kwargs[REPLY_TO_KWARG]["channel_id"] == "200"
    assert tasks[CHAT_TASKS["stats"]].kwargs[REPLY_TO_KWARG]["in_reply_to"] == "seed-p"
    assert tasks[RECORD_MESSAGE_TASK].kwargs["message"]["uuid"] == "plain-1"

    (reply,) = read_topic(kafka, f"{unique_topic}.speak", 1)
    speak = decode_speak_message(reply.value())
    assert speak.channel_id == "300"
    assert speak.in_reply_to == "dance-1"
    assert "unknown command !dance" in speak.content
    assert committed(kafka, f"{unique_topic}.group", unique_topic) == [len(records)]


def test_bad_records_go_to_the_dlq_and_the_consumer_goes_on(
    kafka: str, unique_topic: str, fs_broker: FilesystemBroker, cli_factory: CliFactory
) -> None:
    # Two topics in one group: the bad records on the first, a good one after them on each.
    other_topic = f"{unique_topic}-b"
    bad = [b"\xff\xfe not utf-8", b"{not json", json.dumps({"uuid": "u", "text": "x"}).encode()]
    good = ChatMessage(content="!ping", channel_id="1").to_json_bytes()
    produce(kafka, unique_topic, [*bad, good])
    produce(kafka, other_topic, [ChatMessage(content="!help").to_json_bytes()])
    cli = cli_factory(**consumer_env(kafka, unique_topic, fs_broker))

    result = cli.run("--stop-at-end", "--verbose", "-t", unique_topic, "-t", other_topic)

    assert result.returncode == 0, result.stderr
    decisions = [line for line in result.stderr.splitlines() if f"{unique_topic}[0]@" in line]
    assert len(decisions) == len(bad) + 1, "one debug line per decision"
    assert "dead-letter: not JSON" in decisions[1]
    assert "send !ping -> kelery.ping" in decisions[3]
    dead = read_topic(kafka, f"{unique_topic}.dlq", len(bad))
    assert [m.value() for m in dead] == bad
    reasons = [header_value(m.headers(), ERROR_HEADER) or "" for m in dead]
    assert "not UTF-8" in reasons[0]
    assert "not JSON" in reasons[1]
    assert "content" in reasons[2]
    for offset, message in enumerate(dead):
        headers = message.headers()
        assert header_value(headers, ORIGIN_TOPIC_HEADER) == unique_topic
        assert header_value(headers, ORIGIN_PARTITION_HEADER) == "0"
        assert header_value(headers, ORIGIN_OFFSET_HEADER) == str(offset)
        assert header_value(headers, STAGE_HEADER) == "consumer"
    assert sorted(t.name for t in fs_broker.drain()) == [CHAT_TASKS["help"], CHAT_TASKS["ping"]]
    group = f"{unique_topic}.group"
    assert committed(kafka, group, unique_topic) == [len(bad) + 1]
    assert committed(kafka, group, other_topic) == [1]


def test_kill_9_mid_stream_then_restart_handles_every_record_at_least_once(
    kafka: str, unique_topic: str, fs_broker: FilesystemBroker, cli_factory: CliFactory
) -> None:
    total = 3000
    produce(
        kafka,
        unique_topic,
        (
            ChatMessage(content=f"!echo {i}", channel_id="7", uuid=f"m{i}").to_json_bytes()
            for i in range(total)
        ),
    )
    cli = cli_factory(
        **consumer_env(kafka, unique_topic, fs_broker, CONSUMER_COMMIT_BATCH_SIZE="100")
    )

    first = cli.start()
    wait_for(lambda: fs_broker.message_count() >= total // 10, "the first run to publish tasks")
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=30)
    torn = fs_broker.remove_torn()
    published_before_kill = fs_broker.message_count()
    assert published_before_kill < total, "the first run finished before it could be killed"
    committed_at_kill = committed(kafka, f"{unique_topic}.group", unique_topic)[0]

    second = cli.run("--stop-at-end")

    assert second.returncode == 0, second.stderr
    seen = Counter(task.args[0] for task in fs_broker.drain() if task.name == CHAT_TASKS["echo"])
    missing = [i for i in range(total) if str(i) not in seen]
    duplicates = sum(n - 1 for n in seen.values())
    summary = (
        f"{total} records; {published_before_kill} tasks before kill -9, offset committed "
        f"then {committed_at_kill}; {torn} publish cut short by the kill; "
        f"{duplicates} duplicates after restart"
    )
    assert not missing, f"lost {len(missing)} records (first: {missing[:5]}): {summary}"
    assert duplicates == published_before_kill - max(committed_at_kill, 0), summary
    assert committed(kafka, f"{unique_topic}.group", unique_topic) == [total], summary


def test_sigterm_commits_what_was_done(
    kafka: str, unique_topic: str, fs_broker: FilesystemBroker, cli_factory: CliFactory
) -> None:
    total = 20
    produce(
        kafka,
        unique_topic,
        (ChatMessage(content="!ping", uuid=f"p{i}").to_json_bytes() for i in range(total)),
    )
    # Batches and intervals so large that only the shutdown commit can commit anything.
    cli = cli_factory(
        **consumer_env(
            kafka,
            unique_topic,
            fs_broker,
            CONSUMER_COMMIT_BATCH_SIZE="100000",
            CONSUMER_COMMIT_INTERVAL_S="3600",
        )
    )
    running = cli.start()
    wait_for(lambda: fs_broker.message_count() == total, "all tasks to be published")
    running.process.send_signal(signal.SIGTERM)

    assert running.process.wait(timeout=60) == 0, running.output()
    assert "final: records=20 tasks_sent=20" in running.output()
    assert committed(kafka, f"{unique_topic}.group", unique_topic) == [total]


def test_dry_run_prints_decisions_and_sends_nothing(
    kafka: str, unique_topic: str, fs_broker: FilesystemBroker, cli_factory: CliFactory
) -> None:
    produce(
        kafka,
        unique_topic,
        [ChatMessage(content="!echo hi").to_json_bytes(), b"\x00garbage", b'{"content": "yo"}'],
    )
    cli = cli_factory(**consumer_env(kafka, unique_topic, fs_broker))

    result = cli.run("--dry-run", "--stop-at-end")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3, result.stdout
    assert lines[0].endswith("send !echo -> kelery.echo args=['hi'] queue=kelery")
    assert "dead-letter: not JSON" in lines[1]
    assert lines[2].endswith("ignore: plain message")
    assert fs_broker.message_count() == 0
    assert committed(kafka, f"{unique_topic}.group", unique_topic) == [-1001]
    topics = AdminClient({"bootstrap.servers": kafka}).list_topics(timeout=30).topics
    assert f"{unique_topic}.dlq" not in topics
    assert f"{unique_topic}.speak" not in topics
