"""The settings of the Celery app, the worker and beat (environment and ``.env``).

Everything a worker or beat process needs is read once, at start, through
:func:`kelery.common.settings.load_settings`, so a bad value stops the process
with a message that names the environment variable. The Kafka block
(``KAFKA_*``), the logging block (``LOG_*``) and the topic names
(``SPEAK_TOPIC``, ``COMMANDS_TOPIC``) come from :class:`KeleryBaseSettings`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import NoDecode

from kelery.common.contracts import DEFAULT_QUEUE
from kelery.common.redaction import register_secret
from kelery.common.settings import KeleryBaseSettings

HOUR = 3600.0
DAY = 86400.0


class ScheduleEntry(BaseModel):
    """One periodic task for beat: which task, how often, with what arguments.

    ``every`` is in seconds; ``queue`` (optional) sends the task to another queue
    than the app's default.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str = Field(min_length=1)
    every: float = Field(gt=0)
    args: tuple[str, ...] = ()
    queue: str | None = None


def _default_schedule() -> dict[str, ScheduleEntry]:
    return {
        "stats-digest": ScheduleEntry(task="kelery.stats_digest", every=HOUR),
        "heartbeat": ScheduleEntry(task="kelery.heartbeat", every=HOUR),
    }


class TasksSettings(KeleryBaseSettings):
    """Settings of ``celery -A kelery.tasks.app worker`` and ``... beat``.

    The broker is Kelery's Kafka transport on ``KAFKA_BOOTSTRAP_SERVERS`` unless
    ``CELERY_BROKER_URL`` names another kombu broker (tests and local
    experiments use ``filesystem://``). Results are published to the speak topic
    whatever happens; a Celery result backend is optional on top.
    """

    celery_broker_url: str | None = Field(
        default=None,
        description="A kombu broker URL; empty: the Kafka transport on KAFKA_BOOTSTRAP_SERVERS.",
    )
    celery_broker_transport_options: dict[str, Any] = Field(
        default_factory=dict,
        description="JSON object passed as Celery's broker_transport_options.",
    )
    celery_result_backend: str | None = Field(
        default=None, description="Optional Celery result backend URL (none by default)."
    )
    task_queue: str = Field(
        default=DEFAULT_QUEUE,
        min_length=1,
        description="The queue (Kafka topic) chat tasks are sent to and the worker reads.",
    )
    announcement_channel_id: int | None = Field(
        default=None,
        gt=0,
        description="Discord channel for the digest, the heartbeat and unaddressed answers.",
    )
    stats_topic: str = Field(
        default="kelery.stats",
        min_length=1,
        description="Compacted topic holding one record per counted chat message.",
    )
    stats_topic_partitions: int = Field(default=3, ge=1)
    stats_read_timeout: float = Field(
        default=30.0, gt=0, description="Seconds `stats` may take to read the counts."
    )
    remind_max: timedelta = Field(
        default=timedelta(days=1),
        description="The longest delay `remind` accepts (seconds or ISO 8601 duration).",
    )
    beat_schedule: Annotated[dict[str, ScheduleEntry], NoDecode] = Field(
        default_factory=_default_schedule,
        description='JSON: {"name": {"task": "kelery.heartbeat", "every": 3600}}.',
    )
    beat_leader_topic: str = Field(
        default="kelery.beat.leader",
        min_length=1,
        description="One-partition topic whose owner in the beat group is the leader.",
    )
    beat_leader_group: str = Field(default="kelery.beat", min_length=1)
    beat_session_timeout_ms: int = Field(
        default=6000,
        ge=1000,
        description="How long a dead leader keeps its lease (Kafka's minimum is 6000).",
    )

    @field_validator("beat_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"not JSON ({exc})") from None
        return value

    @field_validator("remind_max", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().replace(".", "", 1).isdigit():
            return float(value)
        return value

    @field_validator("remind_max")
    @classmethod
    def _positive_delay(cls, value: timedelta) -> timedelta:
        if value.total_seconds() < 1:
            raise ValueError("must be at least one second")
        return value

    def model_post_init(self, context: Any, /) -> None:
        """Also hide passwords written inside broker and backend URLs from every log line."""
        super().model_post_init(context)
        for url in (self.celery_broker_url, self.celery_result_backend):
            if url:
                register_secret(urlsplit(url).password)

    @property
    def announcement_channel(self) -> str | None:
        """The announcement channel id as the string SpeakMessage carries."""
        return None if self.announcement_channel_id is None else str(self.announcement_channel_id)
