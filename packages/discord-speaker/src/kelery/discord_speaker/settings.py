"""The speaker's settings: the shared Kelery blocks plus what only the speaker needs.

Shared names keep working (``KAFKA_BOOTSTRAP_SERVERS``, ``SPEAK_TOPIC``,
``DISCORD_TOKEN``, ``DISCORD_API_BASE``, ``ANNOUNCEMENT_CHANNEL_ID``); the
speaker's own settings start with ``SPEAKER_``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from kelery.common.settings import DiscordSettings, KeleryBaseSettings
from kelery.discord_speaker.posts import MentionKind


class SpeakerSettings(KeleryBaseSettings):
    """Everything ``kelery-discord-speaker`` reads from the environment / ``.env``."""

    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    group_id: str = Field(
        default="kelery-discord-speaker",
        min_length=1,
        validation_alias="SPEAKER_GROUP_ID",
        description="Kafka consumer group; speakers sharing it share the speak topic.",
    )
    instance_id: str | None = Field(
        default=None,
        min_length=1,
        validation_alias="SPEAKER_INSTANCE_ID",
        description=(
            "Kafka static membership (group.instance.id): a speaker restarted with the "
            "same id takes its partitions back at once instead of after a session timeout."
        ),
    )
    allowed_mentions: Annotated[list[MentionKind], NoDecode] = Field(
        default_factory=list,
        validation_alias="SPEAKER_ALLOWED_MENTIONS",
        description="Mention kinds that may ping (users,roles,everyone); empty = none.",
    )
    retry_max_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias="SPEAKER_RETRY_MAX_SECONDS",
        description="Longest wait between retries of a post Discord could not take yet.",
    )
    poll_timeout_seconds: float = Field(
        default=0.5,
        gt=0,
        le=10,
        validation_alias="SPEAKER_POLL_TIMEOUT_SECONDS",
        description="How long one Kafka poll may wait; bounds how fast a stop is noticed.",
    )
    commit_delay_seconds: float = Field(
        default=0.0,
        ge=0,
        validation_alias="SPEAKER_COMMIT_DELAY_SECONDS",
        description=(
            "Fault injection for tests: wait this long between a post and its commit, "
            "so a crash can be made to land exactly there. Leave 0 in production."
        ),
    )

    @field_validator("allowed_mentions", mode="before")
    @classmethod
    def _split_mentions(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value
