from pathlib import Path

import pytest

from kelery.common.errors import SettingsError
from kelery.common.settings import KafkaSettings, KeleryBaseSettings, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(("KAFKA_", "LOG_")) or name in {"COMMANDS_TOPIC", "SPEAK_TOPIC"}:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout


def test_seed_environment_names_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("COMMANDS_TOPIC", "my-commands")
    settings = load_settings(KeleryBaseSettings)
    assert settings.kafka.bootstrap_servers == ["kafka:9092"]
    assert settings.commands_topic == "my-commands"


def test_dotenv_file_beside_the_process_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("KAFKA_BOOTSTRAP_SERVERS=a:1,b:2\nCOMMANDS_TOPIC=from-dotenv\n")
    settings = load_settings(KeleryBaseSettings)
    assert settings.kafka.bootstrap_servers == ["a:1", "b:2"]
    assert settings.kafka.bootstrap == "a:1,b:2"
    assert settings.commands_topic == "from-dotenv"


def test_bootstrap_servers_accept_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", '["h1:1", "h2:2"]')
    assert load_settings(KafkaSettings).bootstrap_servers == ["h1:1", "h2:2"]


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("KAFKA_BOOTSTRAP_SERVERS", "no-port", "KAFKA_BOOTSTRAP_SERVERS"),
        ("KAFKA_BOOTSTRAP_SERVERS", "", "KAFKA_BOOTSTRAP_SERVERS"),
        ("KAFKA_SECURITY_PROTOCOL", "SASL_TLS", "KAFKA_SECURITY_PROTOCOL"),
        ("KAFKA_SSL_CA_LOCATION", "/nonexistent/ca.pem", "KAFKA_SSL_CA_LOCATION"),
        ("KAFKA_RETRIES", "-1", "KAFKA_RETRIES"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
        ("COMMANDS_TOPIC", "", "COMMANDS_TOPIC"),
    ],
)
def test_a_bad_setting_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=named):
        load_settings(KeleryBaseSettings)


def test_sasl_needs_mechanism_and_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(SettingsError, match="KAFKA_SASL_MECHANISM"):
        load_settings(KafkaSettings)
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    with pytest.raises(SettingsError, match="KAFKA_SASL_PASSWORD"):
        load_settings(KafkaSettings)
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret-value")
    settings = load_settings(KafkaSettings)
    assert settings.sasl_password is not None
    assert "s3cret-value" not in repr(settings)


def test_extra_librdkafka_properties_are_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_EXTRA", '{"socket.keepalive.enable": true}')
    assert load_settings(KafkaSettings).extra == {"socket.keepalive.enable": True}
