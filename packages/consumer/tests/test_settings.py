"""ConsumerSettings: env names, defaults, and failures that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from kelery.common.errors import SettingsError
from kelery.common.settings import load_settings
from kelery.consumer.settings import ConsumerSettings


def test_defaults_read_the_commands_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMANDS_TOPIC", "seed.commands")
    settings = load_settings(ConsumerSettings)
    assert settings.topics == ["seed.commands"]
    assert settings.consumer_group_id == "kelery-consumer"
    assert settings.celery_broker_url is None


def test_env_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    routes = tmp_path / "r.toml"
    routes.write_text("", encoding="utf-8")
    monkeypatch.setenv("CONSUMER_TOPICS", "a, b")
    monkeypatch.setenv("CONSUMER_GROUP_ID", "g1")
    monkeypatch.setenv("CONSUMER_ROUTING_FILE", str(routes))
    monkeypatch.setenv("CONSUMER_PLAIN_MESSAGE_TASK", "kelery.record_message")
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://user:hunter2-secret@host//")
    monkeypatch.setenv("CELERY_BROKER_TRANSPORT_OPTIONS", '{"visibility_timeout": 5}')
    settings = load_settings(ConsumerSettings)
    assert settings.topics == ["a", "b"]
    assert settings.consumer_group_id == "g1"
    assert settings.consumer_routing_file == routes
    assert settings.consumer_plain_message_task == "kelery.record_message"
    assert settings.celery_broker_transport_options == {"visibility_timeout": 5}
    assert settings.celery_broker_url is not None
    assert "hunter2" not in repr(settings)
    assert settings.celery_broker_url.get_secret_value().endswith("@host//")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONSUMER_COMMIT_BATCH_SIZE", "0"),
        ("CONSUMER_COMMIT_INTERVAL_S", "-1"),
        ("CONSUMER_ROUTING_FILE", "/nonexistent/routes.toml"),
        ("CONSUMER_METRICS_PORT", "70000"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings(ConsumerSettings)


def test_blank_plain_task_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONSUMER_PLAIN_MESSAGE_TASK", "  ")
    assert load_settings(ConsumerSettings).consumer_plain_message_task is None
