"""The Kelery Celery app: ``celery -A kelery.tasks.app worker`` and ``... beat``.

Settings are read from the environment when this module is imported (a bad
value stops the process with the variable's name). Signals wire the process
life cycle in:

- ``setup_logging``: kelery.common's logging (with the secret redactor)
  replaces Celery's own root-logger setup;
- ``worker_process_init``: each pool process makes its own Kafka producer after
  the fork;
- ``worker_process_shutdown`` / ``worker_shutdown``: the producer is flushed,
  so queued answers are delivered before the process exits.
"""

from __future__ import annotations

import sys
from typing import Any

from celery import signals

from kelery.common.errors import SettingsError
from kelery.common.logging import setup_logging
from kelery.common.runtime import EXIT_USAGE
from kelery.common.settings import load_settings
from kelery.tasks.context import KeleryApp
from kelery.tasks.factory import create_app
from kelery.tasks.settings import TasksSettings


def _load_app() -> KeleryApp:
    """The app from the environment's settings; on a bad setting one clear line, exit 2."""
    try:
        return create_app(load_settings(TasksSettings))
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201 - the worker's own voice
        raise SystemExit(EXIT_USAGE) from None


app = _load_app()
app.set_current()
settings = app.kelery.settings


@signals.setup_logging.connect
def _setup_logging(**_kwargs: Any) -> None:
    """Use Kelery's logging (redactor included) instead of Celery's."""
    setup_logging(settings.log)


@signals.worker_process_init.connect
def _producer_after_fork(**_kwargs: Any) -> None:
    """Make this pool process's producer now, not lazily in the first task."""
    _ = app.kelery.producer.producer


@signals.worker_process_shutdown.connect
@signals.worker_shutdown.connect
def _flush_producer(**_kwargs: Any) -> None:
    """Deliver the answers still queued before the process exits."""
    app.kelery.producer.flush()
