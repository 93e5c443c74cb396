"""The listener's settings: the shared base, the Discord block, and its own knobs.

Its own names start with ``LISTENER_`` in the environment: ``LISTENER_ANNOUNCE``
(post the seed's start-up announcement to ``ANNOUNCEMENT_CHANNEL_ID``),
``LISTENER_ANNOUNCE_TEXT``, ``LISTENER_OVERFLOW_LIMIT`` (messages held beyond
librdkafka's queue while Kafka is unreachable), ``LISTENER_DELIVERY_ATTEMPTS``
and ``LISTENER_FLUSH_TIMEOUT`` (seconds a shutdown waits for Kafka).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from kelery.common.settings import DiscordSettings, KeleryBaseSettings


class ListenerSettings(KeleryBaseSettings):
    """Everything ``kelery-discord-listener`` reads from the environment."""

    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    listener_announce: bool = False
    listener_announce_text: str = Field(
        default="Kelery listener is online.", min_length=1, max_length=2000
    )
    listener_overflow_limit: int = Field(default=10_000, ge=0)
    listener_delivery_attempts: int = Field(default=3, ge=1, le=100)
    listener_flush_timeout: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _announcement_needs_a_channel(self) -> ListenerSettings:
        if self.listener_announce and self.discord.announcement_channel_id is None:
            raise ValueError("LISTENER_ANNOUNCE=true needs ANNOUNCEMENT_CHANNEL_ID")
        return self
