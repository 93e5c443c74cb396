"""client_config keeps confluent-kafka's callback keys (error_cb, logger, ...) as named."""

from __future__ import annotations

import logging

from kelery.common.kafka_config import client_config
from kelery.common.settings import KafkaSettings


def _on_error(_error: object) -> None:
    return None


def test_callback_overrides_keep_their_names() -> None:
    logger = logging.getLogger("test")
    config = client_config(
        KafkaSettings(bootstrap_servers=["b:9092"]),
        "producer",
        error_cb=_on_error,
        logger=logger,
        linger_ms=20,
    )
    assert config["error_cb"] is _on_error
    assert config["logger"] is logger
    assert "error.cb" not in config
    assert config["linger.ms"] == 20
