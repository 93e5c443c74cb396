"""The producer's own settings, on top of the shared Kafka/logging/topic block.

Everything Kafka-side (brokers, acks, retries, backoff, linger, security) comes
from :class:`~kelery.common.settings.KafkaSettings` (``KAFKA_*``), and the
default topic from ``COMMANDS_TOPIC``, so the producer is configured exactly
like every other Kelery process. What is genuinely the producer's own lives
here, under ``PRODUCER_*`` names.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kelery.common.settings import KeleryBaseSettings

SEED_DEFAULT_MESSAGE = "Hello Kafka! Producer online Here"
"""What the seed's producer sent when given no message; kept so old habits still work."""


class ProducerSettings(KeleryBaseSettings):
    """``kelery-produce`` settings; each field names its environment variable."""

    model_config = SettingsConfigDict(populate_by_name=True)

    flush_timeout: float = Field(
        default=30.0,
        gt=0,
        validation_alias="PRODUCER_FLUSH_TIMEOUT",
        description="Seconds to wait for in-flight messages at the end or after Ctrl-C.",
    )
    connect_timeout: float = Field(
        default=10.0,
        gt=0,
        validation_alias="PRODUCER_CONNECT_TIMEOUT",
        description="Seconds to wait for the cluster to answer at start before giving up.",
    )
    default_message: str = Field(
        default=SEED_DEFAULT_MESSAGE,
        min_length=1,
        validation_alias="PRODUCER_DEFAULT_MESSAGE",
        description="The message sent when none is given on the command line.",
    )
    source: str = Field(
        default="kelery-produce",
        min_length=1,
        validation_alias="PRODUCER_SOURCE",
        description="The envelope's ``source`` field.",
    )
    progress_interval: float = Field(
        default=5.0,
        gt=0,
        validation_alias="PRODUCER_PROGRESS_INTERVAL",
        description="Seconds between plain progress lines when stdout is not a terminal.",
    )
