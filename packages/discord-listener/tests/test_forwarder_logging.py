"""librdkafka's own log lines reach Python logging (redaction, LOG_FORMAT=json), not stderr.

A real librdkafka producer with ``debug=generic`` logs its configuration while it
is created; with a ``logger`` those lines are queued and handed to Python logging
by ``poll``. No broker is needed.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from confluent_kafka import Producer

from kelery.common.kafka_config import LIBRDKAFKA_LOG
from kelery.common.settings import KafkaSettings
from kelery.discord_listener.forwarder import Forwarder

CLIENT_ID = "forwarder-logging-test"


def test_librdkafka_log_lines_go_through_python_logging(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    def debugging_producer(config: dict[str, Any]) -> Producer:
        return Producer({**config, "debug": "generic", "client.id": CLIENT_ID})

    with caplog.at_level(logging.DEBUG, logger=LIBRDKAFKA_LOG.name):
        forwarder = Forwarder(
            KafkaSettings(bootstrap_servers=["127.0.0.1:1"]),
            "commands",
            producer_factory=debugging_producer,
        )
        forwarder.service()  # poll(0) serves the queued log lines
        forwarder.close(timeout=0)
    lines = [r for r in caplog.records if r.name == LIBRDKAFKA_LOG.name]
    assert lines, "no librdkafka line reached Python logging"
    assert CLIENT_ID not in capfd.readouterr().err
