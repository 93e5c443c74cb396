"""Selecting the transport: explicit, validated, and never a silent fall-back to kombu's."""

from __future__ import annotations

import socket
import subprocess
import sys

import kombu
import pytest
from pydantic import SecretStr

from kelery.common.errors import SettingsError
from kelery.common.reachability import KafkaUnreachableError
from kelery.common.settings import KafkaSettings
from kelery.tasks.transport import (
    TRANSPORT_PATH,
    BrokerUnavailableError,
    Transport,
    celery_broker_config,
    celery_config,
)
from kelery.tasks.transport.options import brokers_from_url, check_topic_name, load_options


def _settings(**kwargs: object) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers="h1:9092,h2:9093", **kwargs)  # type: ignore[arg-type]


def test_celery_config_selects_our_transport_for_several_brokers() -> None:
    config = celery_config(_settings(), partitions=6)
    assert config["broker_url"] == "kelery+kafka://h1:9092,h2:9093"
    assert config["broker_transport"] == TRANSPORT_PATH
    assert config["broker_transport_options"]["partitions"] == 6
    connection = kombu.Connection(
        config["broker_url"], transport_options=config["broker_transport_options"]
    )
    assert connection.transport_cls == "kelery"
    assert isinstance(connection.transport, Transport)
    assert connection.transport.kafka.bootstrap_servers == ["h1:9092", "h2:9093"]


def test_a_kafka_url_with_broker_transport_is_ours_too() -> None:
    connection = kombu.Connection("kafka://h1:9092,h2:9092", transport=TRANSPORT_PATH)
    assert isinstance(connection.transport, Transport)
    assert connection.transport.kafka.bootstrap == "h1:9092,h2:9092"


def test_a_kelery_url_is_parsed_by_kombu_like_amqp() -> None:
    connection = kombu.Connection("kelery://h1:9093;kelery://h2:9094")
    assert (connection.transport_cls, connection.hostname, connection.port) == (
        "kelery",
        "h1",
        9093,
    )
    assert isinstance(connection.transport, Transport)
    assert connection.transport.kafka.bootstrap_servers == ["h1:9093"]
    assert connection.as_uri() == "kelery+kafka://h1:9093"
    connection.switch(connection.alt[1])  # what kombu's failover does
    assert (connection.hostname, connection.port) == ("h2", 9094)
    assert connection.transport.kafka.bootstrap_servers == ["h2:9094"]


def test_a_broker_list_url_keeps_every_broker_and_prints_without_error() -> None:
    connection = kombu.Connection("kelery+kafka://h1:9092,h2:9093")
    assert connection.transport.kafka.bootstrap_servers == ["h1:9092", "h2:9093"]
    assert connection.as_uri() == "kelery+kafka://h1:9092,h2:9093"


def test_credentials_parsed_by_kombu_are_refused_too() -> None:
    with pytest.raises(SettingsError, match="credentials"):
        _ = kombu.Connection("kelery://user:secret@h1:9092").transport


def test_without_the_import_the_scheme_fails_loudly() -> None:
    code = (
        "import kombu\n"
        "try:\n"
        "    kombu.Connection('kelery+kafka://h:9092').transport\n"
        "except KeyError as exc:\n"
        "    print('refused:', exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "No such transport: kelery" in result.stdout


def test_sasl_secrets_stay_secret_in_the_celery_config() -> None:
    kafka = _settings(
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        sasl_password=SecretStr("sasl-pw-in-selection"),
    )
    config = celery_config(kafka)
    assert "sasl-pw-in-selection" not in repr(config)
    assert config["broker_transport_options"]["kafka_settings"] is kafka


def test_unknown_and_invalid_options_name_the_option() -> None:
    with pytest.raises(SettingsError, match="partiton"):
        celery_config(_settings(), partiton=3)
    with pytest.raises(SettingsError, match="partitions"):
        load_options({"partitions": 0})


def test_broker_urls() -> None:
    assert brokers_from_url("kelery+kafka://a:1,b:2") == ["a:1", "b:2"]
    assert brokers_from_url("kafka://a") == ["a:9092"]
    with pytest.raises(SettingsError, match="credentials"):
        brokers_from_url("kelery+kafka://user:pw@a:1")
    with pytest.raises(SettingsError, match="host:port"):
        brokers_from_url("kelery+kafka://a:99999")
    with pytest.raises(SettingsError, match="scheme"):
        brokers_from_url("amqp://a:1")
    assert brokers_from_url("kelery://a:1;kelery://b;kelery://a:1") == ["a:1", "b:9092"]


def test_topic_names_kafka_refuses_are_refused_with_the_reason() -> None:
    assert check_topic_name("kelery.tasks-1_x") == "kelery.tasks-1_x"
    with pytest.raises(ValueError, match="'@'"):
        check_topic_name("celery@host.pidbox")


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "kafka://h3:9092,h4:9092",
        "kelery+kafka://h3:9092,h4",
        "kelery://h3:9092;kelery://h4",
    ],
)
def test_empty_and_kafka_urls_select_our_transport(url: str | None) -> None:
    config = celery_broker_config(url, _settings(), partitions=3)
    assert config["broker_transport"] == TRANSPORT_PATH
    expected = ["h1:9092", "h2:9093"] if not url else ["h3:9092", "h4:9092"]
    kafka = config["broker_transport_options"]["kafka_settings"]
    assert kafka.bootstrap_servers == expected
    assert config["broker_url"] == f"kelery+kafka://{','.join(expected)}"
    assert config["broker_transport_options"]["partitions"] == 3
    connection = kombu.Connection(
        config["broker_url"],
        transport=config["broker_transport"],
        transport_options=config["broker_transport_options"],
    )
    assert isinstance(connection.transport, Transport)


@pytest.mark.parametrize(
    "url",
    ["amqp://u:p@h//", "redis://h:6379/0", "filesystem://", "memory://", "confluentkafka://h"],
)
def test_other_schemes_are_used_as_given(url: str) -> None:
    assert celery_broker_config(url, _settings(), data_folder_in="/x") == {
        "broker_url": url,
        "broker_transport_options": {"data_folder_in": "/x"},
    }


def test_a_kafka_url_with_credentials_or_a_bad_option_fails_at_start() -> None:
    with pytest.raises(SettingsError, match="credentials"):
        celery_broker_config("kafka://u:p@h:9092", _settings())
    with pytest.raises(SettingsError, match="partiton"):
        celery_broker_config("kafka://h:9092", _settings(), partiton=3)


def test_a_listener_that_is_not_kafka_fails_the_connection_naming_the_brokers() -> None:
    """TCP accepts, Kafka never answers: kelery-common's start-up check, as a connection error."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        connection = kombu.Connection(f"kelery+kafka://{address}", connect_timeout=1)
        with pytest.raises(BrokerUnavailableError) as caught:
            connection.transport.establish_connection()
        connection.release()
    assert isinstance(caught.value, KafkaUnreachableError)
    assert isinstance(caught.value, ConnectionError)
    assert f"cannot reach Kafka at {address} (KAFKA_BOOTSTRAP_SERVERS) within 1 s" in str(
        caught.value
    )
