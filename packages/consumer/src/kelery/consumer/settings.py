"""What ``kelery-consume`` reads from the environment (and ``.env``), in one typed model.

The shared blocks (``KAFKA_*``, ``LOG_*``, ``COMMANDS_TOPIC``, ``SPEAK_TOPIC``,
``COMMAND_PREFIX``) come from :class:`~kelery.common.settings.KeleryBaseSettings`;
the fields here are the consumer's own, each named so its environment variable is
obvious (``consumer_group_id`` is ``CONSUMER_GROUP_ID``). The Celery broker URL
may carry a password, so it is a ``SecretStr``: registered with the log redactor
and never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from kelery.common.contracts import DEFAULT_QUEUE
from kelery.common.settings import KeleryBaseSettings, split_list_setting


class ConsumerSettings(KeleryBaseSettings):
    """Settings of the command router: group, topics, routing, commits, Celery broker."""

    consumer_group_id: str = Field(
        default="kelery-consumer", min_length=1, description="Kafka consumer group id."
    )
    consumer_topics: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Topics to read, comma separated; empty means COMMANDS_TOPIC.",
    )
    consumer_routing_file: Path | None = Field(
        default=None,
        description="A TOML or JSON routing file; unset means the built-in chat tasks.",
    )
    consumer_plain_message_task: str | None = Field(
        default=None,
        description="Task sent for every plain (non-command) chat message; unset: none.",
    )
    consumer_task_queue: str = Field(
        default=DEFAULT_QUEUE, min_length=1, description="Celery queue tasks are sent to."
    )
    consumer_commit_batch_size: int = Field(
        default=500, ge=1, description="Commit after this many records are done..."
    )
    consumer_commit_interval_s: float = Field(
        default=1.0, gt=0, description="...or after this many seconds, whichever comes first."
    )
    consumer_summary_interval_s: float = Field(
        default=30.0, gt=0, description="Seconds between info-level summary lines."
    )
    consumer_poll_batch: int = Field(
        default=500,
        ge=1,
        le=100_000,
        description="The most records read per poll (a lone record is not held back).",
    )
    consumer_startup_timeout_s: float = Field(
        default=15.0, gt=0, description="How long to wait for Kafka at start before failing."
    )
    consumer_shutdown_timeout_s: float = Field(
        default=30.0, gt=0, description="How long to wait for in-flight deliveries at exit."
    )
    consumer_ensure_topics: bool = Field(
        default=True, description="Create missing topics (input, speak, DLQ) at start."
    )
    consumer_metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Serve Prometheus metrics on this port."
    )
    celery_broker_url: SecretStr | None = Field(
        default=None,
        description=(
            "Where tasks are published: empty, kafka:// or kelery+kafka:// is Kelery's Kafka "
            "transport (the kafka-broker extra); amqp://, redis://… that broker."
        ),
    )
    celery_broker_transport_options: dict[str, Any] = Field(
        default_factory=dict, description="JSON object passed as broker_transport_options."
    )

    @field_validator("consumer_topics", mode="before")
    @classmethod
    def _parse_topics(cls, value: Any) -> Any:
        return split_list_setting(value)

    @field_validator("consumer_routing_file")
    @classmethod
    def _routing_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file {str(value)!r} does not exist")
        return value

    @field_validator("consumer_plain_message_task")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @property
    def topics(self) -> list[str]:
        """The topics to subscribe to: CONSUMER_TOPICS, else the commands topic."""
        return list(self.consumer_topics) or [self.commands_topic]
