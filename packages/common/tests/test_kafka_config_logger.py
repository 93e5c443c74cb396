"""Producers and consumers from client_config log librdkafka's lines through Python logging.

Real librdkafka clients, no broker: with ``debug=generic`` a client logs its
configuration while it is created, and confluent-kafka hands those lines to the
config's ``logger`` in ``poll``. Without it they would be printed to fd 2.
"""

from __future__ import annotations

import logging

import pytest
from confluent_kafka import Consumer, Producer

from kelery.common.kafka_config import LIBRDKAFKA_LOG, client_config
from kelery.common.settings import KafkaSettings

SETTINGS = KafkaSettings(bootstrap_servers=["127.0.0.1:1"])


def test_producer_and_consumer_get_the_librdkafka_logger_admin_does_not() -> None:
    assert client_config(SETTINGS, "producer")["logger"] is LIBRDKAFKA_LOG
    assert client_config(SETTINGS, "consumer", group_id="g")["logger"] is LIBRDKAFKA_LOG
    assert "logger" not in client_config(SETTINGS, "admin")


def test_a_callers_logger_wins() -> None:
    mine = logging.getLogger("kelery.test.mine")
    assert client_config(SETTINGS, "producer", logger=mine)["logger"] is mine


@pytest.mark.parametrize("role", ["producer", "consumer"])
def test_librdkafka_lines_reach_python_logging_not_stderr(
    role: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    client_id = f"kafka-config-logger-{role}"
    with caplog.at_level(logging.DEBUG, logger=LIBRDKAFKA_LOG.name):
        if role == "producer":
            config = client_config(SETTINGS, "producer", client_id=client_id, debug="generic")
            producer = Producer(config)
            producer.poll(0.2)
            producer.flush(0)
        else:
            config = client_config(
                SETTINGS, "consumer", group_id="g", client_id=client_id, debug="generic"
            )
            consumer = Consumer(config)
            consumer.poll(0.2)
            consumer.close()
    lines = [r for r in caplog.records if r.name == LIBRDKAFKA_LOG.name]
    assert any(client_id in r.getMessage() for r in lines), "no librdkafka line reached logging"
    assert client_id not in capfd.readouterr().err
