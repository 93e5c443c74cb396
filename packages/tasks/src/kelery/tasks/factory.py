"""Build a Kelery Celery app from settings, without reading the environment.

:mod:`kelery.tasks.app` calls this with the settings of the process; tests
and tools call it with their own, and importing this module has no side
effects (no settings read, no signal connected).
"""

from __future__ import annotations

from kelery.tasks import chat, periodic
from kelery.tasks.config import celery_config
from kelery.tasks.context import KeleryApp, TasksContext
from kelery.tasks.settings import TasksSettings

TASK_MODULES = (chat, periodic)  # imported here so every app instance knows the tasks


def create_app(settings: TasksSettings) -> KeleryApp:
    """A Kelery Celery app configured from ``settings``."""
    app = KeleryApp("kelery", context=TasksContext(settings), set_as_current=False)
    app.config_from_object(celery_config(settings))
    return app
