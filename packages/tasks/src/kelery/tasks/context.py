"""What the tasks of one Celery app share in a process: settings, producer, counts.

A :class:`KeleryApp` is a Celery app that carries a :class:`TasksContext`, so
the task base class reaches the settings and the per-process producer through
``self.app`` instead of through module globals, and a test can build an app
with its own settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from celery import Celery

from kelery.tasks.message_counts import MessageCounts
from kelery.tasks.publisher import ProcessProducer
from kelery.tasks.settings import TasksSettings


@dataclass
class TasksContext:
    """The settings, the producer and the message-count store of one app."""

    settings: TasksSettings
    producer: ProcessProducer = field(init=False)
    counts: MessageCounts = field(init=False)

    def __post_init__(self) -> None:
        self.producer = ProcessProducer(self.settings.kafka)
        self.counts = MessageCounts(
            kafka=self.settings.kafka,
            topic=self.settings.stats_topic,
            partitions=self.settings.stats_topic_partitions,
            producer=self.producer,
            read_timeout=self.settings.stats_read_timeout,
        )


class KeleryApp(Celery):
    """A Celery app that knows Kelery's settings and owns a per-process producer."""

    def __init__(self, main: str, *, context: TasksContext, **kwargs: Any) -> None:
        super().__init__(main, **kwargs)
        self.kelery = context


def context_of(app: Celery) -> TasksContext:
    """The TasksContext of ``app``; a clear error when a task runs under a plain Celery app."""
    if not isinstance(app, KeleryApp):
        raise TypeError(
            f"Kelery tasks need the app from kelery.tasks.app, not {type(app).__name__} "
            "(start the worker with: celery -A kelery.tasks.app worker)"
        )
    return app.kelery
