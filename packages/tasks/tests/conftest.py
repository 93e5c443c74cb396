"""The Kafka broker for kelery-tasks' tests, with this process's clients closed before it stops.

Celery keeps broker connections in kombu's process-wide pools, and the transport
keeps one producer per process: both outlive the tests that made them. Left open
when the devkit plugin stops the session's broker, each of their librdkafka
clients logs a failed reconnect every few milliseconds until the process exits,
a hundred lines of noise under the test summary. So the session closes them
first: kombu's pools (each connection's readers, broadcast hub and admin client),
then the transport's producers.
"""

from __future__ import annotations

from collections.abc import Iterator

import kombu.pools
import pytest

from kelery.tasks.transport.producer import close_producers

CLOSE_TIMEOUT_S = 10.0


@pytest.fixture(scope="session")
def kafka(kafka: str) -> Iterator[str]:
    """The devkit plugin's broker; this process's Kafka clients are closed before it stops."""
    yield kafka
    kombu.pools.reset()
    close_producers(CLOSE_TIMEOUT_S)
