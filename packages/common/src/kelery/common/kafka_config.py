"""The one place a librdkafka configuration dict is built.

Every Kelery producer, consumer and admin client gets its config from
:func:`client_config`, so security (SASL/SSL), client identity and delivery
guarantees are decided once: producers are idempotent with ``acks=all``;
consumers never auto-commit (callers commit after the work is handed on, which
is what at-least-once means here). Callers pass ``overrides`` for what is
genuinely theirs (a group id, a linger); ``KAFKA_EXTRA`` is applied last so an
operator can always win.

librdkafka's own log lines (a refused connection, a broker gone) would otherwise
be printed raw to the process's stderr, past Python logging: unformatted, not
redacted, not leveled, interleaved with a Celery worker's or a CLI's log. Producers
and consumers therefore get :data:`LIBRDKAFKA_LOG` as their ``logger`` unless the
caller names another. confluent-kafka hands such lines over in ``poll()`` (or
``consume()``/``flush()``), which every Kelery producer and consumer calls anyway.
Admin clients keep librdkafka's stderr output: their calls return futures and never
poll, so a logger would only hold their lines back.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from kelery.common.redaction import MASK
from kelery.common.settings import KafkaSettings

ClientRole = Literal["producer", "consumer", "admin"]

_SECRET_KEYS = frozenset({"sasl.password", "ssl.key.password", "sasl.oauthbearer.client.secret"})

CALLBACK_KEYS = frozenset(
    {"error_cb", "stats_cb", "throttle_cb", "oauth_cb", "on_delivery", "on_commit", "logger"}
)
"""confluent-kafka's Python-side config keys: passed through as named, never dotted."""

LIBRDKAFKA_LOG = logging.getLogger("kelery.librdkafka")
"""Where librdkafka's messages go for producers and consumers (see the module docstring)."""


def _common(kafka: KafkaSettings) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": kafka.bootstrap,
        "client.id": kafka.client_id,
        "security.protocol": kafka.security_protocol,
    }
    if kafka.sasl_mechanism is not None:
        config["sasl.mechanism"] = kafka.sasl_mechanism
    if kafka.sasl_username is not None:
        config["sasl.username"] = kafka.sasl_username
    if kafka.sasl_password is not None:
        config["sasl.password"] = kafka.sasl_password.get_secret_value()
    if kafka.ssl_ca_location is not None:
        config["ssl.ca.location"] = str(kafka.ssl_ca_location)
    if kafka.ssl_certificate_location is not None:
        config["ssl.certificate.location"] = str(kafka.ssl_certificate_location)
    if kafka.ssl_key_location is not None:
        config["ssl.key.location"] = str(kafka.ssl_key_location)
    if kafka.ssl_key_password is not None:
        config["ssl.key.password"] = kafka.ssl_key_password.get_secret_value()
    return config


def _producer(kafka: KafkaSettings) -> dict[str, Any]:
    return {
        "enable.idempotence": True,
        "acks": kafka.acks,
        "retries": kafka.retries,
        "retry.backoff.ms": kafka.retry_backoff_ms,
        "linger.ms": kafka.linger_ms,
        "delivery.timeout.ms": kafka.delivery_timeout_ms,
        "request.timeout.ms": kafka.request_timeout_ms,
    }


def _consumer(kafka: KafkaSettings) -> dict[str, Any]:
    return {
        "enable.auto.commit": False,
        "auto.offset.reset": kafka.auto_offset_reset,
    }


def client_config(kafka: KafkaSettings, role: ClientRole, /, **overrides: Any) -> dict[str, Any]:
    """Build the librdkafka config for a ``role`` client from ``kafka`` settings.

    ``overrides`` use librdkafka's dotted names written with underscores
    (``group_id="x"`` sets ``group.id``) or may be given as a mapping via
    ``**{"group.id": "x"}``. confluent-kafka's callbacks (``error_cb``,
    ``stats_cb``, ``logger``, …; see :data:`CALLBACK_KEYS`) keep their names.
    """
    config = _common(kafka)
    if role == "producer":
        config.update(_producer(kafka))
    elif role == "consumer":
        config.update(_consumer(kafka))
    if role != "admin":
        config["logger"] = LIBRDKAFKA_LOG
    for key, value in overrides.items():
        dotted = key if "." in key or key in CALLBACK_KEYS else key.replace("_", ".")
        config[dotted] = value
    config.update(kafka.extra)
    if role == "producer" and str(config.get("acks")) not in {"all", "-1"}:
        # librdkafka refuses idempotence without acks=all; honour an explicit weaker choice.
        config["enable.idempotence"] = False
    return config


def awaited_producer(kafka: KafkaSettings) -> dict[str, Any]:
    """Overrides for a producer whose every record someone waits for: no linger.

    ``linger.ms`` holds a record back to fill a batch. A producer that waits for
    each record's delivery report (a task's answer: the task returns only once it
    is confirmed), or whose records each stand for a person waiting (a chat
    message forwarded to the commands topic), gains nothing from the batch and
    pays the wait on every record: 5 ms by default. Bursts still batch: records
    queue behind the requests in flight. ``KAFKA_LINGER_MS``, when set, still wins.
    """
    return {} if "linger_ms" in kafka.model_fields_set else {"linger.ms": 0}


def redacted(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` that is safe to log: secret values masked."""
    return {key: MASK if key in _SECRET_KEYS else value for key, value in config.items()}
