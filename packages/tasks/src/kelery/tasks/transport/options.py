"""The transport's settings: ``broker_transport_options`` validated once, and the URL.

kombu hands a transport a free-form ``transport_options`` dict; a typo there would
otherwise be ignored silently. :class:`TransportOptions` validates it at connect
time and :func:`load_options` turns a mistake into a
:class:`~kelery.common.errors.SettingsError` that names the option.

Kafka client settings (brokers, SASL/SSL, acks) never live here as a hand-built
librdkafka dict: they come from kelery-common's
:class:`~kelery.common.settings.KafkaSettings` (option ``kafka_settings``, else the
``KAFKA_*`` environment), and every client config is made by
:func:`kelery.common.kafka_config.client_config`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kelery.common.errors import SettingsError
from kelery.common.settings import KafkaSettings, load_settings

SCHEMES = ("kelery+kafka", "kelery", "kafka")
"""URL schemes the transport accepts; ``kelery+kafka://`` and ``kelery://`` select it."""


class TransportOptions(BaseModel):
    """Every option of the transport, with defaults that suit a Celery deployment."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)

    kafka_settings: KafkaSettings | None = Field(
        default=None,
        description="Kafka client settings; None: read KAFKA_* from the environment.",
    )
    topic_prefix: str = Field(default="", description="Prepended to every topic name.")
    group_id: str = Field(
        default="kelery-workers",
        min_length=1,
        description="The consumer group all workers share for queue topics.",
    )
    partitions: int = Field(default=12, ge=1, description="Partitions of a new queue topic.")
    replication_factor: int = Field(default=-1, description="-1: the broker's default.")
    topic_config: dict[str, str] = Field(default_factory=dict)
    confirm_publish: bool = Field(
        default=False,
        description="Wait for the broker's acknowledgement of every publish before returning.",
    )
    confirm_timeout: float = Field(default=30.0, gt=0)
    poll_timeout: float = Field(
        default=0.1,
        gt=0,
        le=5,
        description="Longest blocking poll of the consumer thread (bounds commit delay).",
    )
    commit_interval: float = Field(default=0.2, ge=0, description="Seconds between commits.")
    max_buffered: int = Field(
        default=1000,
        ge=1,
        description="Records a channel fetches ahead of Celery before pausing its partitions.",
    )
    connect_timeout: float = Field(default=10.0, gt=0)
    get_timeout: float = Field(
        default=10.0, gt=0, description="Longest wait of basic_get (queue.get_nowait)."
    )
    close_timeout: float = Field(default=10.0, gt=0)
    producer_config: dict[str, Any] = Field(default_factory=dict)
    consumer_config: dict[str, Any] = Field(default_factory=dict)
    admin_config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("topic_prefix")
    @classmethod
    def _legal_prefix(cls, value: str) -> str:
        check_topic_name(value + "x")
        return value


_LEGAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
MAX_TOPIC_LENGTH = 249


def check_topic_name(name: str) -> str:
    """Return ``name`` if Kafka accepts it as a topic name, else raise ValueError saying why."""
    if not name or name in {".", ".."}:
        raise ValueError(f"{name!r} is not a valid Kafka topic name")
    if len(name) > MAX_TOPIC_LENGTH:
        raise ValueError(f"topic name {name[:40]!r}... is longer than {MAX_TOPIC_LENGTH}")
    bad = sorted(set(name) - _LEGAL)
    if bad:
        raise ValueError(
            f"{name!r} is not a valid Kafka topic name (characters {''.join(bad)!r} are not "
            "allowed; use letters, digits, '.', '_' and '-')"
        )
    return name


def load_options(raw: dict[str, Any]) -> TransportOptions:
    """Validate kombu's ``transport_options``; SettingsError names the bad option.

    Options kombu or Celery themselves put in ``transport_options`` (``max_retries``,
    ``interval_start``...) are not ours and are ignored.
    """
    ours = {key: value for key, value in raw.items() if key in TransportOptions.model_fields}
    try:
        return TransportOptions(**ours)
    except ValidationError as exc:
        lines = [
            f"  broker_transport_options[{'.'.join(str(p) for p in err['loc'])!r}]: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise SettingsError("invalid Kafka transport options:\n" + "\n".join(lines)) from None


def brokers_from_url(url: str) -> list[str]:
    """The ``host:port`` list of ``kelery+kafka://h1:9092,h2:9092`` (any of SCHEMES, or none).

    Credentials are refused in the URL: they would be printed wherever Celery shows
    the broker URL. SASL settings go in ``KAFKA_SASL_*`` (KafkaSettings). kombu's
    failover alternates (``kelery://a:9092;kelery://b:9092``) are brokers of one
    cluster to Kafka, so they all become bootstrap servers.
    """
    if ";" in url:
        servers: list[str] = []
        for alternate in url.split(";"):
            servers += [s for s in brokers_from_url(alternate.strip()) if s not in servers]
        return servers
    rest = url
    if "://" in url:
        scheme, rest = url.split("://", 1)
        if scheme not in SCHEMES:
            raise SettingsError(f"broker URL scheme {scheme!r} is not one of {SCHEMES}")
    if "@" in rest:
        raise SettingsError(
            "the Kafka broker URL must not carry credentials; set KAFKA_SASL_USERNAME "
            "and KAFKA_SASL_PASSWORD instead"
        )
    rest = rest.split("/", 1)[0].split("?", 1)[0]
    servers = [part.strip() for part in rest.split(",") if part.strip()]
    servers = [server if ":" in server else f"{server}:9092" for server in servers]
    for server in servers:
        host, _, port = server.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(f"broker URL {url!r}: {server!r} is not host:port")
    return servers


def kafka_settings_for(url: str, options: TransportOptions) -> KafkaSettings:
    """The KafkaSettings of a connection: the option's, else the environment's; URL brokers win."""
    servers = brokers_from_url(url)
    base = options.kafka_settings or load_settings(KafkaSettings)
    if servers and servers != base.bootstrap_servers:
        return base.model_copy(update={"bootstrap_servers": servers})
    return base
