"""kelery-produce end to end: the real CLI as a subprocess against the real Kafka broker.

Records are read back by assigning every partition from offset 0 and reading up
to the high watermark, so "exactly N arrived" is checked, not "at least N".
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from kelery.common.dlq import ERROR_HEADER, ORIGIN_TOPIC_HEADER, STAGE_HEADER, header_value
from kelery.common.kafka_config import client_config
from kelery.common.schemas import decode_chat_message
from kelery.common.settings import KafkaSettings
from kelery.devkit.waiting import wait_until
from kelery.producer.dead_letters import ORIGIN_INPUT_HEADER

pytestmark = pytest.mark.integration

HANG_GUARD = 120  # seconds; a subprocess still running after this is a bug, not slowness


def cli_env(kafka: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "PRODUCER_"))}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=kafka,
        LOG_CONFIG="/nonexistent/logging_config.json",
        PRODUCER_CONNECT_TIMEOUT="15",
    )
    env.update(extra)
    return env


def produce(
    kafka: str, *args: str, cwd: Path, stdin: bytes | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``kelery-produce`` to completion; stdin is bytes (it may be any bytes)."""
    done = subprocess.run(
        [sys.executable, "-m", "kelery.producer", *args],
        input=stdin,
        capture_output=True,
        timeout=HANG_GUARD,
        cwd=cwd,
        env=cli_env(kafka, **env),
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args,
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


def read_all(kafka: str, topic: str) -> list[Message]:
    """Every record in ``topic`` now: all partitions from 0 up to their high watermark."""
    settings = KafkaSettings(bootstrap_servers=[kafka])
    consumer = Consumer(client_config(settings, "consumer", group_id=f"test-{uuid.uuid4().hex}"))
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        ends = {}
        for p in partitions:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            if high > 0:
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        records: list[Message] = []
        remaining = dict(ends)
        while remaining:
            message = consumer.poll(10)
            assert message is not None, f"records missing below the watermarks {remaining}"
            assert message.error() is None, message.error()
            records.append(message)
            partition, offset = message.partition(), message.offset()
            assert partition is not None
            assert offset is not None
            if offset + 1 >= remaining.get(partition, 0):
                remaining.pop(partition, None)
        return records
    finally:
        consumer.close()


def values(records: list[Message]) -> list[Any]:
    return [decode_chat_message(r.value()) for r in records]


def test_arguments_arrive_as_envelopes_with_key_and_headers(
    kafka: str, unique_topic: str, tmp_path: Path
) -> None:
    done = produce(
        kafka, "-t", unique_topic, "-k", "chan-7", "-H", "trace=abc", "-H", "team=ops",
        "--channel-id", "42", "!ping", "hello there", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"delivered 2 of 2 messages to {unique_topic}" in done.stdout
    records = read_all(kafka, unique_topic)
    messages = values(records)
    assert sorted(m.content for m in messages) == ["!ping", "hello there"]
    assert {m.source for m in messages} == {"kelery-produce"}
    assert {m.channel_id for m in messages} == {"42"}
    assert len({m.uuid for m in messages}) == 2
    for record in records:
        assert record.key() == b"chan-7"
        assert record.headers() == [("trace", b"abc"), ("team", b"ops")]


def test_default_message_and_commands_topic_from_settings(
    kafka: str, unique_topic: str, tmp_path: Path
) -> None:
    done = produce(kafka, cwd=tmp_path, COMMANDS_TOPIC=unique_topic)
    assert done.returncode == 0, done.stderr
    [message] = values(read_all(kafka, unique_topic))
    assert message.content == "Hello Kafka! Producer online Here"


def test_json_file_lines_become_envelopes_bad_lines_go_to_the_dlq(
    kafka: str, unique_topic: str, tmp_path: Path
) -> None:
    lines = tmp_path / "events.jsonl"
    lines.write_text(
        '{"content": "!remind 10m stretch", "channel_id": 123, "author_id": 9}\n'
        '{"content": "broken"\n'
        "\n"
        '"plain string"\n',
        encoding="utf-8",
    )
    done = produce(kafka, "--json", "--file", str(lines), "-t", unique_topic, cwd=tmp_path)
    assert done.returncode == 1
    assert "events.jsonl:2: not JSON" in done.stderr
    assert f"1 input lines were invalid and not sent to {unique_topic}" in done.stderr
    assert f"copied to {unique_topic}.dlq" in done.stderr
    records = read_all(kafka, unique_topic)
    by_content = {m.content: (m, r.key()) for m, r in zip(values(records), records, strict=True)}
    assert set(by_content) == {"!remind 10m stretch", "plain string"}
    remind, key = by_content["!remind 10m stretch"]
    assert (remind.channel_id, remind.author_id, key) == ("123", "9", b"123")
    [dead] = read_all(kafka, f"{unique_topic}.dlq")
    assert dead.value() == b'{"content": "broken"'
    assert header_value(dead.headers(), ERROR_HEADER) is not None
    assert "events.jsonl:2: not JSON" in (header_value(dead.headers(), ERROR_HEADER) or "")
    assert header_value(dead.headers(), STAGE_HEADER) == "producer"
    assert header_value(dead.headers(), ORIGIN_TOPIC_HEADER) == unique_topic
    assert header_value(dead.headers(), ORIGIN_INPUT_HEADER) == f"{lines}:2"


def test_when_every_line_is_invalid_nothing_is_sent_and_all_reach_the_dlq(
    kafka: str, unique_topic: str, tmp_path: Path
) -> None:
    stdin = b"\xff\xfe not utf-8\n[1, 2]\n"
    done = produce(kafka, "--json", "-t", unique_topic, "-f", "-", cwd=tmp_path, stdin=stdin)
    assert done.returncode == 1
    assert "2 input lines were invalid" in done.stderr
    dead = read_all(kafka, f"{unique_topic}.dlq")
    assert sorted(r.value() or b"" for r in dead) == [b"[1, 2]", b"\xff\xfe not utf-8"]
    assert sorted(header_value(r.headers(), ORIGIN_INPUT_HEADER) or "" for r in dead) == [
        "stdin:1",
        "stdin:2",
    ]
    assert _high_watermark(kafka, unique_topic) == 0


def test_stdin_lines_are_streamed(kafka: str, unique_topic: str, tmp_path: Path) -> None:
    done = produce(kafka, "-t", unique_topic, "-", cwd=tmp_path, stdin=b"one\r\ntwo\n\nthree\n")
    assert done.returncode == 0, done.stderr
    assert sorted(m.content for m in values(read_all(kafka, unique_topic))) == [
        "one",
        "three",
        "two",
    ]


def test_count_repeats_the_messages(kafka: str, unique_topic: str, tmp_path: Path) -> None:
    done = produce(kafka, "-t", unique_topic, "--count", "3", "a", "b", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    messages = values(read_all(kafka, unique_topic))
    assert sorted(m.content for m in messages) == ["a", "a", "a", "b", "b", "b"]
    assert len({m.uuid for m in messages}) == 6


def test_raw_sends_bytes_as_given(kafka: str, unique_topic: str, tmp_path: Path) -> None:
    sent = [b'{"uuid": "u1", "content": "x", "timestamp": "2024-01-01T00:00:00"}', b"not json"]
    stdin = b"\n".join(sent) + b"\n"
    done = produce(kafka, "--raw", "-t", unique_topic, "-f", "-", cwd=tmp_path, stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert sorted(r.value() or b"" for r in read_all(kafka, unique_topic)) == sorted(sent)


def test_failed_deliveries_are_counted_and_exit_non_zero(
    kafka: str, topic_factory: Any, tmp_path: Path
) -> None:
    topic = topic_factory(config={"max.message.bytes": "1000"})
    too_big = "x" * 3000
    # The broker refuses a whole batch; --rate 2 keeps the big record (last) out of the
    # small ones' batch, even if they wait together for the idempotent producer id.
    done = produce(kafka, "-t", topic, "--rate", "2", "small", "small 2", too_big, cwd=tmp_path)
    assert done.returncode == 1
    assert "error: 1 of 3 messages failed" in done.stderr
    assert "too large" in done.stderr
    assert sorted(m.content for m in values(read_all(kafka, topic))) == ["small", "small 2"]


def test_invalid_topic_is_refused_at_start(kafka: str, tmp_path: Path) -> None:
    done = produce(kafka, "-t", "no spaces allowed!", "x", cwd=tmp_path)
    assert done.returncode == 1
    assert "topic 'no spaces allowed!' cannot be written" in done.stderr


def test_unreachable_kafka_is_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = produce(f"127.0.0.1:{port}", "x", cwd=tmp_path, PRODUCER_CONNECT_TIMEOUT="3")
    assert done.returncode == 1
    assert f"cannot reach Kafka at 127.0.0.1:{port} (KAFKA_BOOTSTRAP_SERVERS)" in done.stderr
    assert "Traceback" not in done.stderr


def test_sigterm_during_forever_flushes_in_flight_and_exits_0(
    kafka: str, unique_topic: str, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "kelery.producer", "-t", unique_topic, "--forever", "--rate", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=cli_env(kafka),
    )
    try:
        wait_until(lambda: _high_watermark(kafka, unique_topic) >= 10, "the first records")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=HANG_GUARD)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    summary = re.search(r"delivered (\d+) of (\d+) messages", out)
    assert summary is not None, out
    delivered, attempted = int(summary[1]), int(summary[2])
    assert delivered == attempted >= 10
    assert len(read_all(kafka, unique_topic)) == delivered


def _high_watermark(kafka: str, topic: str) -> int:
    settings = KafkaSettings(bootstrap_servers=[kafka])
    consumer = Consumer(client_config(settings, "consumer", group_id=f"wm-{uuid.uuid4().hex}"))
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return 0
        return sum(
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in metadata.partitions
        )
    finally:
        consumer.close()


def test_json_summary_shape_is_stable(kafka: str, unique_topic: str, tmp_path: Path) -> None:
    """The envelope round-trips through the consumer's own decoder with every field typed."""
    done = produce(kafka, "-t", unique_topic, "--author-name", "cli", "hi", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [record] = read_all(kafka, unique_topic)
    raw = json.loads(record.value() or b"")
    assert set(raw) == {"schema", "uuid", "content", "timestamp", "source", "author_name"}
    assert decode_chat_message(record.value()).author_name == "cli"


def test_a_record_over_the_client_limit_is_counted_failed_others_still_go(
    kafka: str, unique_topic: str, tmp_path: Path
) -> None:
    """librdkafka refuses it locally (message.max.bytes), in the batched fast path."""
    lines = tmp_path / "lines.txt"
    lines.write_text("first\n" + "y" * 999_990 + "\nlast\n", encoding="utf-8")
    done = produce(kafka, "-t", unique_topic, "--file", str(lines), cwd=tmp_path)
    assert done.returncode == 1
    assert "error: 1 of 3 messages failed" in done.stderr
    assert sorted(m.content for m in values(read_all(kafka, unique_topic))) == ["first", "last"]


def test_ctrl_c_during_a_finite_run_flushes_and_exits_130(
    kafka: str, unique_topic: str, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "kelery.producer", "-t", unique_topic, "-n", "100000", "-r", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=cli_env(kafka),
    )
    try:
        wait_until(lambda: _high_watermark(kafka, unique_topic) >= 5, "the first records")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=HANG_GUARD)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    summary = re.search(r"delivered (\d+) of (\d+) messages", out)
    assert summary is not None, out
    assert int(summary[1]) == int(summary[2]) == len(read_all(kafka, unique_topic)) < 100000
