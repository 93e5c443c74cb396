"""Build the Celery configuration from TasksSettings: one function, no I/O.

JSON is the only serializer in and out (pickle is refused: a task message is
data, never code). The broker is Kelery's Kafka transport unless
``CELERY_BROKER_URL`` names another broker; see the package README for every setting.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from kelery.tasks.settings import ScheduleEntry, TasksSettings
from kelery.tasks.transport import celery_broker_config

TASK_MODULES = ("kelery.tasks.chat", "kelery.tasks.periodic")
LEADER_SCHEDULER = "kelery.tasks.beat:LeaderScheduler"


def broker_config(settings: TasksSettings) -> dict[str, Any]:
    """broker_url, broker_transport and options: see the transport's celery_broker_config.

    Empty, ``kafka://`` and ``kelery+kafka://`` URLs all mean Kelery's Kafka
    transport (selected by class path, never kombu's own), other URLs are used as
    given.
    """
    return celery_broker_config(
        settings.celery_broker_url, settings.kafka, **settings.celery_broker_transport_options
    )


def beat_schedule(entries: dict[str, ScheduleEntry]) -> dict[str, dict[str, Any]]:
    """Celery's ``beat_schedule`` from the settings' entries."""
    schedule: dict[str, dict[str, Any]] = {}
    for name, entry in entries.items():
        item: dict[str, Any] = {
            "task": entry.task,
            "schedule": timedelta(seconds=entry.every),
            "args": list(entry.args),
        }
        if entry.queue:
            item["options"] = {"queue": entry.queue}
        schedule[name] = item
    return schedule


def celery_config(settings: TasksSettings) -> dict[str, Any]:
    """The whole Celery configuration of the Kelery app."""
    config: dict[str, Any] = {
        **broker_config(settings),
        "result_backend": settings.celery_result_backend,
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "task_default_queue": settings.task_queue,
        # At-least-once: a task is acked after it ran; a worker lost mid-task
        # means the task runs again (an answer may repeat, none is lost).
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": True,
        "timezone": "UTC",
        "enable_utc": True,
        "include": list(TASK_MODULES),
        "beat_scheduler": LEADER_SCHEDULER,
        "beat_schedule": beat_schedule(settings.beat_schedule),
    }
    return config
