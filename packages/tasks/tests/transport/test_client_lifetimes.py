"""How long the transport's Kafka clients live: shared producers, a connection's admin client."""

from __future__ import annotations

import logging

import kombu
import pytest

from kelery.tasks.transport import Transport
from kelery.tasks.transport.producer import close_producers, generation, shared_producer

# Nothing listens on port 1 and nothing is produced: no test here needs a broker.
CONFIG = {"bootstrap.servers": "127.0.0.1:1", "client.id": "kelery-unit"}


def test_one_producer_per_config_until_close_producers_drops_them() -> None:
    first = shared_producer(CONFIG, exit_timeout=1.0)
    assert shared_producer(dict(CONFIG), exit_timeout=1.0) is first
    before = generation()

    assert close_producers(1.0) == 0  # nothing was waiting for the broker

    assert generation() != before
    assert shared_producer(CONFIG, exit_timeout=1.0) is not first
    close_producers(1.0)


def test_a_config_with_a_logger_keeps_its_producer_when_the_level_changes() -> None:
    librdkafka = logging.getLogger("kelery.test.lifetimes.librdkafka")
    config = {**CONFIG, "logger": librdkafka}
    first = shared_producer(config, exit_timeout=1.0)
    level = librdkafka.level
    try:
        librdkafka.setLevel(logging.DEBUG)  # changes str(librdkafka), not the logger
        assert shared_producer(dict(config), exit_timeout=1.0) is first
    finally:
        librdkafka.setLevel(level)
        close_producers(1.0)


def test_a_producer_with_unconfirmed_publishes_is_kept_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stuck = shared_producer(CONFIG, exit_timeout=1.0)
    stuck.produce("nowhere", value=b"waits for a broker that is not there")

    with caplog.at_level(logging.ERROR):
        assert close_producers(0.2) == 1

    assert shared_producer(CONFIG, exit_timeout=1.0) is stuck  # the exit still waits for it
    assert "1 published message(s) still unconfirmed" in caplog.text
    stuck.purge()  # give the record up, so that this test process can exit at once
    assert close_producers(1.0) == 0


def test_a_transport_fetches_a_new_producer_after_close_producers() -> None:
    transport = kombu.Connection("kelery+kafka://127.0.0.1:1").transport
    assert isinstance(transport, Transport)
    first = transport.producer
    assert transport.producer is first  # held, not looked up per publish

    close_producers(1.0)

    assert transport.producer is not first
    close_producers(1.0)


def test_a_closed_connection_keeps_no_admin_client() -> None:
    transport = kombu.Connection("kelery+kafka://127.0.0.1:1").transport
    admin = transport.admin
    assert transport.admin is admin

    transport.close_connection(None)

    assert transport.admin is not admin  # a new one, made when the reused transport asks
