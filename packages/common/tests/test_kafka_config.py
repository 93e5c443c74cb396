from pathlib import Path

import pytest
from pydantic import SecretStr

from kelery.common.kafka_config import awaited_producer, client_config, redacted
from kelery.common.settings import KafkaSettings


def _settings(**values: object) -> KafkaSettings:
    return KafkaSettings.model_validate({"bootstrap_servers": "h1:9092,h2:9092", **values})


def test_producer_is_idempotent_with_acks_all() -> None:
    config = client_config(_settings(), "producer")
    assert config["bootstrap.servers"] == "h1:9092,h2:9092"
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    assert "group.id" not in config


def test_consumer_never_auto_commits_and_takes_overrides() -> None:
    config = client_config(_settings(), "consumer", group_id="g1", **{"session.timeout.ms": 6000})
    assert config["enable.auto.commit"] is False
    assert config["group.id"] == "g1"
    assert config["session.timeout.ms"] == 6000
    assert "acks" not in config


def test_admin_gets_only_connection_settings() -> None:
    config = client_config(_settings(), "admin")
    assert set(config) == {"bootstrap.servers", "client.id", "security.protocol"}


def test_sasl_ssl_settings_map_to_librdkafka_names(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    settings = _settings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="svc",
        sasl_password=SecretStr("hunter22"),
        ssl_ca_location=ca,
    )
    config = client_config(settings, "consumer", group_id="g")
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "SCRAM-SHA-256"
    assert config["sasl.username"] == "svc"
    assert config["sasl.password"] == "hunter22"
    assert config["ssl.ca.location"] == str(ca)
    assert redacted(config)["sasl.password"] != "hunter22"


def test_operator_extra_wins_and_weaker_acks_drop_idempotence() -> None:
    config = client_config(_settings(extra={"acks": "1", "linger.ms": 50}), "producer")
    assert config["linger.ms"] == 50
    assert config["acks"] == "1"
    assert config["enable.idempotence"] is False


def test_an_awaited_producer_does_not_linger_by_default() -> None:
    settings = _settings()
    assert settings.linger_ms == 5.0  # every other producer keeps librdkafka's 5 ms
    config = client_config(settings, "producer", **awaited_producer(settings))
    assert config["linger.ms"] == 0


def test_an_awaited_producer_keeps_a_linger_the_operator_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_LINGER_MS", "20")
    settings = KafkaSettings()
    assert awaited_producer(settings) == {}
    assert client_config(settings, "producer", **awaited_producer(settings))["linger.ms"] == 20


def test_kafka_extra_wins_over_an_awaited_producer() -> None:
    settings = _settings(extra={"linger.ms": 2})
    assert client_config(settings, "producer", **awaited_producer(settings))["linger.ms"] == 2
