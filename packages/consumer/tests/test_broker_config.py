"""Which Celery broker the consumer publishes to, and with publisher confirms where possible."""

from __future__ import annotations

import sys

import pytest

from kelery.common.errors import SettingsError
from kelery.common.settings import KafkaSettings
from kelery.consumer.dispatch import celery_broker_config, make_celery_app

KAFKA = KafkaSettings(bootstrap_servers=["k1:9092", "k2:9092"])


def test_a_plain_url_is_used_as_given() -> None:
    config = celery_broker_config("filesystem://", {"data_folder_in": "/x"}, KAFKA)
    assert config == {
        "broker_url": "filesystem://",
        "broker_transport_options": {"data_folder_in": "/x"},
    }


def test_amqp_gets_publisher_confirms_unless_told_otherwise() -> None:
    assert celery_broker_config("amqp://h//", {}, KAFKA)["broker_transport_options"] == {
        "confirm_publish": True
    }
    off = celery_broker_config("amqp://h//", {"confirm_publish": False}, KAFKA)
    assert off["broker_transport_options"] == {"confirm_publish": False}


def test_no_url_means_kelerys_kafka_transport_with_confirms() -> None:
    config = celery_broker_config(None, {"topic_prefix": "t."}, KAFKA)
    assert config["broker_url"] == "kelery+kafka://k1:9092,k2:9092"
    assert config["broker_transport"] == "kelery.tasks.transport:Transport"
    options = config["broker_transport_options"]
    assert options["confirm_publish"] is True
    assert options["producer_config"] == {"linger.ms": 0}
    assert options["topic_prefix"] == "t."
    assert options["kafka_settings"] is KAFKA


def test_a_kelery_kafka_url_selects_the_transport_explicitly() -> None:
    config = celery_broker_config("kelery+kafka://k1:9092", {}, KAFKA)
    assert config["broker_url"] == "kelery+kafka://k1:9092"
    assert config["broker_transport"] == "kelery.tasks.transport:Transport"
    assert config["broker_transport_options"]["confirm_publish"] is True
    app = make_celery_app(config)
    assert app.conf.broker_transport == "kelery.tasks.transport:Transport"


def test_an_explicit_linger_is_kept() -> None:
    options = {"producer_config": {"linger.ms": 2, "acks": "all"}}
    config = celery_broker_config("kelery+kafka://k1:9092", options, KAFKA)
    assert config["broker_transport_options"]["producer_config"] == {"linger.ms": 2, "acks": "all"}
    assert options == {"producer_config": {"linger.ms": 2, "acks": "all"}}  # not mutated


def test_unknown_kafka_transport_option_fails_at_start() -> None:
    with pytest.raises(SettingsError, match="colour"):
        celery_broker_config(None, {"colour": "red"}, KAFKA)


@pytest.mark.parametrize("url", ["kafka://k3:9092", "kelery+kafka://k3:9092", "kelery://k3:9092"])
def test_kafka_urls_select_kelerys_transport_on_the_urls_brokers(url: str) -> None:
    # kombu 5.7 maps kafka:// to its own transport: broker_transport must say ours.
    config = celery_broker_config(url, {}, KAFKA)
    assert config["broker_transport"] == "kelery.tasks.transport:Transport"
    assert config["broker_url"] == "kelery+kafka://k3:9092"
    assert config["broker_transport_options"]["kafka_settings"].bootstrap_servers == ["k3:9092"]
    assert config["broker_transport_options"]["confirm_publish"] is True
    connection = make_celery_app(config).connection_for_write()
    assert type(connection.transport).__module__ == "kelery.tasks.transport.transport"


@pytest.mark.parametrize(
    "url", ["redis://h:6379/0", "memory://", "filesystem://", "confluentkafka://h:9092"]
)
def test_other_schemes_are_used_as_given(url: str) -> None:
    # confluentkafka:// is an explicit choice of kombu's own Kafka transport.
    assert celery_broker_config(url, {"x": 1}, KAFKA) == {
        "broker_url": url,
        "broker_transport_options": {"x": 1},
    }


@pytest.mark.parametrize(
    "url", [None, "kafka://k1:9092", "kelery+kafka://k1:9092", "kelery://k1:9092"]
)
def test_kafka_urls_without_kelery_tasks_name_the_setting_and_the_extra(
    monkeypatch: pytest.MonkeyPatch, url: str | None
) -> None:
    monkeypatch.setitem(sys.modules, "kelery.tasks.transport", None)  # import now fails
    with pytest.raises(SettingsError) as info:
        celery_broker_config(url, {}, KAFKA)
    assert "CELERY_BROKER_URL" in str(info.value)
    assert "kelery-consumer[kafka-broker]" in str(info.value)


def test_other_brokers_do_not_need_kelery_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kelery.tasks.transport", None)
    assert celery_broker_config("amqp://h//", {}, KAFKA)["broker_url"] == "amqp://h//"


def test_the_schemes_that_need_kelery_tasks_are_the_transports_own() -> None:
    # kept apart so the consumer can say which extra is missing; they must not drift
    from kelery.consumer import dispatch
    from kelery.tasks.transport.options import SCHEMES

    assert set(SCHEMES) == dispatch._KAFKA_TRANSPORT_SCHEMES
