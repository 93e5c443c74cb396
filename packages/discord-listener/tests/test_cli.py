"""``kelery-discord-listener`` as operators run it: a real process, real signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from kelery.common.kafka_config import client_config
from kelery.common.schemas import decode_chat_message
from kelery.common.settings import KafkaSettings
from kelery.devkit.fake_discord import FakeDiscord
from kelery.devkit.pytest_plugin import TopicFactory

LISTENER = [sys.executable, "-m", "kelery.discord_listener"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DISCORD_", "KAFKA_", "LISTENER_", "ANNOUNCEMENT_"))
    }
    env.update(extra)
    return env


def test_help_names_the_settings() -> None:
    done = subprocess.run([*LISTENER, "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert "DISCORD_CHANNELS" in done.stdout
    assert "--api-base" in done.stdout


def test_real_discord_without_token_fails_naming_the_setting(tmp_path: Path) -> None:
    done = subprocess.run(
        LISTENER, capture_output=True, text=True, check=False, cwd=tmp_path, env=_env(tmp_path)
    )
    assert done.returncode == 2
    assert "DISCORD_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr


def test_unreachable_discord_is_a_one_line_failure(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = _env(tmp_path, DISCORD_API_BASE=f"http://127.0.0.1:{port}/api/v10")
    done = subprocess.run(
        LISTENER, capture_output=True, text=True, check=False, cwd=tmp_path, env=env, timeout=120
    )
    assert done.returncode == 1
    assert f"cannot log in to http://127.0.0.1:{port}/api/v10" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.integration
def test_forwards_then_sigterm_flushes_and_exits_zero(
    kafka: str, topic_factory: TopicFactory, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    topic = topic_factory(1)
    env = _env(
        tmp_path,
        DISCORD_API_BASE=fake_discord.api_base,
        KAFKA_BOOTSTRAP_SERVERS=kafka,
        COMMANDS_TOPIC=topic,
    )
    consumer = Consumer(
        client_config(KafkaSettings(bootstrap_servers=[kafka]), "consumer", group_id=f"cli-{topic}")
    )
    consumer.subscribe([topic])
    with subprocess.Popen(
        LISTENER, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            fake_discord.wait_for_gateway("identify", 1, timeout=60)
            sent = fake_discord.inject_message("general", "!ping", author="dora")
            record = None
            deadline = time.monotonic() + 60
            while record is None and time.monotonic() < deadline:
                message = consumer.poll(0.5)
                if message is not None and message.error() is None:
                    record = message
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=60)
        finally:
            consumer.close()
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)
    assert record is not None, err
    chat = decode_chat_message(record.value())
    assert (chat.content, chat.author_name, chat.message_id) == ("!ping", "dora", str(sent.id))
    assert process.returncode == 0, err
    assert "1 forwarded, 1 delivered, 0 retried, 0 undeliverable" in err
