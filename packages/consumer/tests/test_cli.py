"""The CLI's contract without a broker: help, exit codes, errors that name the setting."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kelery.common.errors import KeleryError
from kelery.consumer.cli import build_parser, main

from .conftest import ConsumerCli, base_env


def test_help_lists_the_main_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--topic", "--group", "--routing", "--dry-run", "--broker-url", "--metrics-port"):
        assert flag in out


def test_bad_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--max-records", "0"])
    assert info.value.code == 2
    assert "at least 1" in capsys.readouterr().err


def test_bad_setting_exits_2_naming_the_variable(tmp_path: Path) -> None:
    cli = ConsumerCli(base_env(CONSUMER_COMMIT_BATCH_SIZE="zero"), tmp_path, [])
    result = cli.run("--dry-run")
    assert result.returncode == 2
    assert "CONSUMER_COMMIT_BATCH_SIZE" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_routing_file_exits_2_and_show_routes_prints_the_table(tmp_path: Path) -> None:
    routes = tmp_path / "routes.toml"
    routes.write_text('[commands]\nweather = "app.weather"\nremind = false\n', encoding="utf-8")
    cli = ConsumerCli(base_env(CONSUMER_ROUTING_FILE=str(routes)), tmp_path, [])
    shown = cli.run("--show-routes")
    assert shown.returncode == 0, shown.stderr
    assert "!weather\tapp.weather\tqueue=kelery" in shown.stdout
    assert "!remind" not in shown.stdout
    routes.write_text('[commands]\nweather = "not a task"\n', encoding="utf-8")
    broken = cli.run("--show-routes")
    assert broken.returncode == 2
    assert "CONSUMER_ROUTING_FILE" in broken.stderr
    assert "'not a task' is not a Celery task name" in broken.stderr


def test_unreachable_kafka_fails_clearly_within_the_timeout(tmp_path: Path) -> None:
    cli = ConsumerCli(
        base_env(KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9", CONSUMER_STARTUP_TIMEOUT_S="2"),
        tmp_path,
        [],
    )
    result = cli.run("--dry-run", timeout=60)
    assert result.returncode == 1
    assert (
        "cannot reach Kafka at 127.0.0.1:9 (KAFKA_BOOTSTRAP_SERVERS) within 2 s "
        "(CONSUMER_STARTUP_TIMEOUT_S)"
    ) in result.stderr


def test_secret_broker_url_is_never_logged(tmp_path: Path) -> None:
    cli = ConsumerCli(
        base_env(
            KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
            CONSUMER_STARTUP_TIMEOUT_S="1",
            CELERY_BROKER_URL="amqp://kelery:s3cret-pass@127.0.0.1:9//",
        ),
        tmp_path,
        [],
    )
    result = cli.run("-v", timeout=60)
    assert result.returncode == 1
    assert "publishing tasks to" in result.stderr
    assert "s3cret-pass" not in result.stderr + result.stdout


class _Closable:
    """Stands in for the Celery app, the reply producer and the consumer; notes close()."""

    closed: list[str]

    def __init__(self, name: str, closed: list[str]) -> None:
        self.name = name
        self.closed = closed

    def close(self) -> None:
        self.closed.append(self.name)


def test_a_failed_start_closes_the_celery_app_the_producer_and_the_consumer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from confluent_kafka import KafkaException

    from kelery.consumer import cli

    closed: list[str] = []

    class FailingConsumer(_Closable):
        def __init__(self, config: object) -> None:
            super().__init__("consumer", closed)

        def list_topics(self, topic: str | None = None, timeout: float = -1) -> None:
            raise KafkaException("no brokers")

    monkeypatch.chdir(tmp_path)
    kept = base_env()
    for name in set(os.environ) - set(kept):
        monkeypatch.delenv(name)
    monkeypatch.setattr(cli, "setup_logging", lambda *a, **k: None)
    monkeypatch.setattr(cli, "make_celery_app", lambda config: _Closable("app", closed))
    monkeypatch.setattr(cli, "Producer", lambda config: _Closable("producer", closed))
    monkeypatch.setattr(cli, "Consumer", FailingConsumer)
    args = build_parser().parse_args(["--broker-url", "memory://"])
    with pytest.raises(KeleryError, match="cannot reach Kafka"):
        cli.run(args)
    assert sorted(closed) == ["app", "consumer", "producer"]
