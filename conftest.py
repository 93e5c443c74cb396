"""Test hygiene shared by every package's tests (they run in one pytest process).

CLIs under test call ``setup_logging``, which puts a handler on the root logger
bound to the ``sys.stderr`` of that moment: pytest's capture stream, closed when
that test ends. Left in place, the next test's log lines (librdkafka's, say)
hit a closed stream and turn into "--- Logging error ---" noise on the real
stderr. Each test gets the root logger back as it found it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


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
