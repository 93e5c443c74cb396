"""Test hygiene shared by every package's tests (they run in one pytest process).

CLIs under test call ``setup_logging``, which puts a handler on the root logger
bound to the ``sys.stderr`` of that moment: pytest's capture stream, closed when
that test ends. Left in place, the next test's log lines (librdkafka's, say)
hit a closed stream and turn into "--- Logging error ---" noise on the real
stderr. Each test gets the root logger back as it found it.

Celery keeps broker connections in kombu's process-wide pools, and Kelery's
transport keeps one producer per process; the consumer's tests publish through
it as the tasks' tests do. Both outlive the tests that made them. Left open when
the devkit plugin stops the session's broker, each of their librdkafka clients
logs failed reconnects until the process exits, noise under the test summary.
So the session closes them first: kombu's pools (each connection's readers,
broadcast hub and admin client), then the transport's producers. Only modules a
test already imported are touched, so a package's tests need no other's.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest

CLOSE_TIMEOUT_S = 10.0


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def kafka(kafka: str) -> Iterator[str]:
    """The devkit plugin's broker; this process's long-lived Kafka clients close before it stops."""
    yield kafka
    pools = sys.modules.get("kombu.pools")
    if pools is not None:
        pools.reset()
    producers = sys.modules.get("kelery.tasks.transport.producer")
    if producers is not None:
        producers.close_producers(CLOSE_TIMEOUT_S)
