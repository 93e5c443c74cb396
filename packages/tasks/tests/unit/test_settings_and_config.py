from datetime import timedelta

import pytest

from kelery.common.errors import SettingsError
from kelery.common.settings import load_settings
from kelery.tasks.config import LEADER_SCHEDULER, celery_config
from kelery.tasks.settings import TasksSettings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ["CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "BEAT_SCHEDULE", "TASK_QUEUE"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")


def test_json_only_and_the_leader_scheduler() -> None:
    config = celery_config(load_settings(TasksSettings))
    assert config["accept_content"] == ["json"]
    assert config["result_accept_content"] == ["json"]
    assert config["task_serializer"] == config["result_serializer"] == "json"
    assert config["beat_scheduler"] == LEADER_SCHEDULER
    assert config["result_backend"] is None
    assert config["worker_hijack_root_logger"] is False


def test_default_schedule_is_hourly_digest_and_heartbeat() -> None:
    schedule = celery_config(load_settings(TasksSettings))["beat_schedule"]
    assert {entry["task"] for entry in schedule.values()} == {
        "kelery.stats_digest",
        "kelery.heartbeat",
    }
    assert all(entry["schedule"] == timedelta(hours=1) for entry in schedule.values())


def test_schedule_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "BEAT_SCHEDULE", '{"tick": {"task": "kelery.ping", "every": 1, "queue": "q1"}}'
    )
    monkeypatch.setenv("CELERY_RESULT_BACKEND", "file:///tmp/results")
    config = celery_config(load_settings(TasksSettings))
    assert config["beat_schedule"] == {
        "tick": {
            "task": "kelery.ping",
            "schedule": timedelta(seconds=1),
            "args": [],
            "options": {"queue": "q1"},
        }
    }
    assert config["result_backend"] == "file:///tmp/results"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BEAT_SCHEDULE", "not json"),
        ("BEAT_SCHEDULE", '{"x": {"task": "kelery.ping", "every": 0}}'),
        ("ANNOUNCEMENT_CHANNEL_ID", "-4"),
        ("REMIND_MAX", "0"),
        ("BEAT_SESSION_TIMEOUT_MS", "10"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings(TasksSettings)


@pytest.mark.parametrize(("value", "seconds"), [("600", 600), ("90.5", 90.5), ("P2D", 172800)])
def test_remind_max_in_seconds_or_iso(
    monkeypatch: pytest.MonkeyPatch, value: str, seconds: float
) -> None:
    monkeypatch.setenv("REMIND_MAX", value)
    assert load_settings(TasksSettings).remind_max == timedelta(seconds=seconds)


def test_passwords_inside_urls_are_redacted_from_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    from kelery.common.redaction import MASK, redact

    monkeypatch.setenv("CELERY_RESULT_BACKEND", "redis://:s3cret-backend@localhost:6379/0")
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://user:s3cret-broker@rabbit//")
    load_settings(TasksSettings)
    assert redact("auth s3cret-backend / s3cret-broker") == f"auth {MASK} / {MASK}"


@pytest.mark.parametrize("url", ["kafka://k1:9092", "kelery+kafka://k1:9092"])
def test_a_kafka_broker_url_runs_the_worker_on_kelerys_transport(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    # kelery+kafka:// used to fail with "No such transport: kelery" (the transport was
    # imported only for an empty URL) and kafka:// ran on kombu's own transport.
    from kelery.tasks.factory import create_app
    from kelery.tasks.transport import TRANSPORT_PATH, Transport

    monkeypatch.setenv("CELERY_BROKER_URL", url)
    app = create_app(load_settings(TasksSettings))
    assert app.conf.broker_transport == TRANSPORT_PATH
    assert isinstance(app.connection_for_write().transport, Transport)
