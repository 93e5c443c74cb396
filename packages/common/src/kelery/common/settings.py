"""One settings base for every Kelery process.

Settings come from environment variables and a ``.env`` file beside the process
(pydantic-settings), so the seed's names keep working: ``KAFKA_BOOTSTRAP_SERVERS``,
``COMMANDS_TOPIC``, ``DISCORD_TOKEN``, ``ANNOUNCEMENT_CHANNEL_ID``.

Each component subclasses :class:`KeleryBaseSettings` and adds its own fields; the
Kafka client block (:class:`KafkaSettings`, prefix ``KAFKA_``) and the logging
block (:class:`LoggingSettings`) are shared. :func:`load_settings` turns pydantic's
validation errors into one :class:`~kelery.common.errors.SettingsError` whose
message names the environment variable to fix, and registers every ``SecretStr``
with the log redactor so a secret can never be printed by accident.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from kelery.common.errors import SettingsError
from kelery.common.redaction import register_secret

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"]

_COMMON_CONFIG = SettingsConfigDict(
    env_file=".env",
    env_file_encoding="utf-8",
    extra="ignore",
    case_sensitive=False,
    validate_default=True,
)


def split_list_setting(value: Any) -> Any:
    """Accept ``a,b`` (the seed's form) as well as a JSON list for a list setting.

    Use as a ``mode="before"`` validator on a field annotated with ``NoDecode``.
    """
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            return json.loads(stripped)
        return [part.strip() for part in stripped.split(",") if part.strip()]
    return value


_SECRET_KEY_WORDS = ("password", "secret", "token")


class _RegistersSecrets(BaseSettings):
    """Every Kelery settings block hands its secrets to the log redactor when built.

    Done per block (not only by the top-level settings) so a block used alone,
    such as ``KafkaSettings`` in the Celery transport, is covered too; raw
    librdkafka properties in a ``dict`` field (``KAFKA_EXTRA``) count when their
    name says they are secret (``sasl.password``, ``...client.secret``).
    """

    def model_post_init(self, context: Any, /) -> None:
        """Register every ``SecretStr`` (and secret-named raw property) of this block."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                register_secret(value.get_secret_value())
            elif isinstance(value, dict):
                for key, item in value.items():
                    if isinstance(item, str) and any(w in str(key) for w in _SECRET_KEY_WORDS):
                        register_secret(item)


class KafkaSettings(_RegistersSecrets):
    """How to reach the Kafka cluster: brokers, identity, security, librdkafka overrides.

    ``KAFKA_EXTRA`` takes a JSON object of raw librdkafka properties for anything
    not modelled here (``{"socket.keepalive.enable": true}``); it is applied last.
    """

    model_config = SettingsConfigDict(**_COMMON_CONFIG, env_prefix="KAFKA_")

    bootstrap_servers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["localhost:9092"],
        description="Brokers as host:port, comma separated.",
    )
    client_id: str = "kelery"
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: Path | None = None
    ssl_certificate_location: Path | None = None
    ssl_key_location: Path | None = None
    ssl_key_password: SecretStr | None = None
    acks: Literal["all", "1", "0"] = "all"
    retries: int = Field(default=2147483647, ge=0)
    retry_backoff_ms: int = Field(default=100, ge=1)
    linger_ms: float = Field(default=5.0, ge=0)
    delivery_timeout_ms: int = Field(default=120_000, ge=1)
    request_timeout_ms: int = Field(default=30_000, ge=1)
    auto_offset_reset: Literal["earliest", "latest", "error"] = "earliest"
    extra: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("bootstrap_servers", mode="before")
    @classmethod
    def _parse_servers(cls, value: Any) -> Any:
        return split_list_setting(value)

    @field_validator("bootstrap_servers")
    @classmethod
    def _check_servers(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one broker is required, as host:port")
        for server in value:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{server!r} is not host:port")
        return value

    @field_validator("ssl_ca_location", "ssl_certificate_location", "ssl_key_location")
    @classmethod
    def _file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"file {str(value)!r} does not exist")
        return value

    @model_validator(mode="after")
    def _check_security(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL_"):
            if self.sasl_mechanism is None:
                raise ValueError(
                    f"KAFKA_SASL_MECHANISM is required when KAFKA_SECURITY_PROTOCOL is "
                    f"{self.security_protocol}"
                )
            needs_password = self.sasl_mechanism in {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}
            if needs_password and (self.sasl_username is None or self.sasl_password is None):
                raise ValueError(
                    f"KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required for "
                    f"SASL mechanism {self.sasl_mechanism}"
                )
        return self

    @property
    def bootstrap(self) -> str:
        """The brokers as librdkafka wants them: one comma-separated string."""
        return ",".join(self.bootstrap_servers)


class LoggingSettings(_RegistersSecrets):
    """Where logging is configured from, and how it looks without a config file."""

    model_config = SettingsConfigDict(**_COMMON_CONFIG, env_prefix="LOG_")

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: Literal["text", "json"] = "text"
    config: Path = Field(
        default=Path("logging_config.json"),
        description="A dictConfig JSON file; used when it exists (the seed's logging_config.json).",
    )

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


DISCORD_API_DEFAULT = "https://discord.com/api/v10"
FAKE_DISCORD_TOKEN = "kelery-fake-discord-token"  # noqa: S105 - a placeholder, not a secret


class DiscordSettings(_RegistersSecrets):
    """How a bot reaches Discord: token, API base, announcement channel, channel allowlist.

    ``DISCORD_API_BASE`` points the bots at another Discord (the devkit's fake one in
    tests and the quickstart); only the real Discord needs a real ``DISCORD_TOKEN``,
    so a missing token is an error at start exactly when the API base is the real one.
    ``DISCORD_CHANNELS`` is the allowlist of channel ids (comma list); empty means all.
    ``ANNOUNCEMENT_CHANNEL_ID`` keeps the seed's name (no ``DISCORD_`` prefix).
    """

    model_config = SettingsConfigDict(**_COMMON_CONFIG, env_prefix="DISCORD_")

    token: SecretStr | None = None
    api_base: str = Field(
        default=DISCORD_API_DEFAULT,
        description="REST API base, e.g. http://127.0.0.1:8700/api/v10 for the fake Discord.",
    )
    announcement_channel_id: int | None = Field(
        default=None, gt=0, validation_alias="ANNOUNCEMENT_CHANNEL_ID"
    )
    channels: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="Allowed channel ids, comma separated; empty = all."
    )

    @field_validator("channels", mode="before")
    @classmethod
    def _parse_channels(cls, value: Any) -> Any:
        return split_list_setting(value)

    @field_validator("channels")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        for channel in value:
            if channel <= 0:
                raise ValueError(f"{channel} is not a Discord channel id")
        return value

    @field_validator("api_base")
    @classmethod
    def _check_api_base(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("token")
    @classmethod
    def _non_empty(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @model_validator(mode="after")
    def _token_for_real_discord(self) -> DiscordSettings:
        if self.token is None and self.uses_real_discord:
            raise ValueError(
                "DISCORD_TOKEN is required to connect to Discord "
                "(or set DISCORD_API_BASE to a fake Discord's URL)"
            )
        return self

    @property
    def uses_real_discord(self) -> bool:
        """True when the API base is discord.com (a real token is then required)."""
        return self.api_base.startswith(("https://discord.com/", "https://discordapp.com/"))

    def bot_token(self) -> str:
        """The token to log in with: the configured one, or a placeholder for a fake Discord."""
        return self.token.get_secret_value() if self.token is not None else FAKE_DISCORD_TOKEN

    def allows(self, channel_id: int) -> bool:
        """Whether the allowlist lets messages of ``channel_id`` through (empty = all)."""
        return not self.channels or channel_id in self.channels


class KeleryBaseSettings(_RegistersSecrets):
    """The base every component's settings derive from.

    Holds what every process shares: the Kafka block, the logging block, the
    topic names and the command prefix. Subclasses add their own fields and may
    set ``env_prefix`` in their own ``model_config``.
    """

    model_config = _COMMON_CONFIG

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    log: LoggingSettings = Field(default_factory=LoggingSettings)
    commands_topic: str = Field(default="kelery.commands", min_length=1)
    speak_topic: str = Field(default="kelery.speak", min_length=1)
    command_prefix: str = Field(default="!", min_length=1, max_length=5)


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def env_name(model: type[BaseSettings], field: str) -> str:
    """The environment variable that sets ``field`` of ``model`` (for error messages)."""
    info = model.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias.upper()
    if info is not None and info.alias:
        return info.alias.upper()
    prefix = str(model.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def _model_named(title: str, root: type[BaseSettings]) -> type[BaseSettings]:
    """Find which settings class a ValidationError came from (nested blocks raise their own)."""
    stack: list[type[BaseSettings]] = [root, KafkaSettings, LoggingSettings, DiscordSettings]
    while stack:
        candidate = stack.pop()
        if candidate.__name__ == title:
            return candidate
        stack.extend(candidate.__subclasses__())
    return root


def describe_validation_error(exc: ValidationError, model: type[BaseSettings]) -> str:
    """Render a settings ValidationError as lines that each name an environment variable."""
    source = _model_named(exc.title, model)
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        where = env_name(source, loc[0]) if loc else "settings"
        if len(loc) > 1 and not loc[1].isdigit():
            where += f" ({'.'.join(loc[1:])})"
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"  {where}: {message}")
    return "invalid settings:\n" + "\n".join(lines)


def load_settings(model: type[SettingsT], **overrides: Any) -> SettingsT:
    """Build ``model`` from the environment, or raise SettingsError naming the bad variable."""
    try:
        return model(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc, model)) from None
