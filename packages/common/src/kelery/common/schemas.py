"""The messages Kelery puts on Kafka, as pydantic models with a versioned ``schema``.

- :class:`ChatMessage`: something a person (or the producer CLI) said; goes to the
  commands topic, keyed by channel id so a channel's order is kept.
- :class:`Command`: a chat message whose content starts with the prefix
  (``!remind 10m stretch`` is ``remind`` with args ``["10m", "stretch"]``).
- :class:`SpeakMessage`: something to post to Discord; goes to the speak topic.

All are JSON in UTF-8. Records without a ``schema`` field are read as version 1,
which is how the seed's shapes (``{"uuid","content","timestamp"}`` from its
producer, ``{"uuid","content","author_id","channel_id"}`` from its listener) keep
working. Every decoding failure is one :class:`InvalidMessageError`.
"""

from __future__ import annotations

import json
import shlex
import uuid as uuid_module
from datetime import UTC, datetime
from typing import Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kelery.common.errors import InvalidMessageError

CHAT_SCHEMA: Final = "kelery.chat/1"
SPEAK_SCHEMA: Final = "kelery.speak/1"
DISCORD_MESSAGE_LIMIT = 2000
MAX_RECORD_BYTES = 1_000_000


def _now() -> datetime:
    return datetime.now(UTC)


def _new_uuid() -> str:
    return str(uuid_module.uuid4())


def _id_to_str(value: Any) -> Any:
    """Discord ids are 64-bit snowflakes: keep them as strings so JSON never rounds them."""
    if isinstance(value, bool):
        raise ValueError("an id cannot be a boolean")  # noqa: TRY004 - pydantic wants ValueError
    if isinstance(value, int):
        return str(value)
    return value


class _Message(BaseModel):
    """Shared behaviour: strict-ish JSON in and out, ``schema`` on the wire."""

    model_config = ConfigDict(
        populate_by_name=True, extra="ignore", frozen=True, str_max_length=MAX_RECORD_BYTES
    )

    @field_validator("schema_", mode="before", check_fields=False)
    @classmethod
    def _schema(cls, value: Any) -> Any:
        """A record without ``schema`` (the seed's shapes) is this model's version 1."""
        return cls.model_fields["schema_"].default if value is None else value

    @field_validator("uuid", mode="before", check_fields=False)
    @classmethod
    def _uuid(cls, value: Any) -> Any:
        """A producer that wrote a numeric id still meant an id: keep it, as text."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    def to_json_bytes(self) -> bytes:
        """Serialise for a Kafka record value (UTF-8 JSON, ``schema`` included)."""
        return self.model_dump_json(by_alias=True, exclude_none=True).encode("utf-8")

    @classmethod
    def from_json_bytes(cls, raw: bytes | str | None) -> Self:
        """Parse a record value, raising InvalidMessageError on any kind of bad input."""
        data = decode_json_object(raw)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'record'}: {err['msg']}"
                for err in exc.errors(include_url=False, include_input=False)
            )
            raise InvalidMessageError(f"not a valid {cls.__name__}: {problems}") from None


class ChatMessage(_Message):
    """A chat line or an event for the commands topic."""

    schema_: Literal["kelery.chat/1"] = Field(default=CHAT_SCHEMA, alias="schema")
    uuid: str = Field(default_factory=_new_uuid, min_length=1, max_length=128)
    content: str
    timestamp: datetime = Field(default_factory=_now)
    source: str = "unknown"
    author_id: str | None = None
    author_name: str | None = None
    channel_id: str | None = None
    guild_id: str | None = None
    message_id: str | None = None

    @field_validator("author_id", "channel_id", "guild_id", "message_id", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return _id_to_str(value)


class SpeakMessage(_Message):
    """Something for the speaker to post; ``channel_id`` None means the announcement channel."""

    schema_: Literal["kelery.speak/1"] = Field(default=SPEAK_SCHEMA, alias="schema")
    uuid: str = Field(default_factory=_new_uuid, min_length=1, max_length=128)
    content: str
    channel_id: str | None = None
    in_reply_to: str | None = None
    task_id: str | None = None
    status: Literal["ok", "error", "info"] = "ok"
    timestamp: datetime = Field(default_factory=_now)

    @field_validator("channel_id", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return _id_to_str(value)


class Command(BaseModel):
    """A parsed ``!name arg …`` command; ``name`` is lower-case, args keep their text."""

    model_config = ConfigDict(frozen=True)

    name: str
    args: tuple[str, ...] = ()
    raw: str = ""


def parse_command(content: str, prefix: str = "!") -> Command | None:
    """Return the command in ``content``, or None when it is plain chat.

    Quoted arguments are honoured (``!echo "a b"`` has one argument); unbalanced
    quotes fall back to splitting on white space rather than failing, because a
    person typed it.
    """
    stripped = content.strip()
    if not stripped.startswith(prefix):
        return None
    body = stripped[len(prefix) :]
    head, _, rest = body.partition(" ")
    name = head.strip().lower()
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        return None
    rest = rest.strip()
    try:
        args = tuple(shlex.split(rest))
    except ValueError:
        args = tuple(rest.split())
    return Command(name=name, args=args, raw=rest)


def decode_json_object(raw: bytes | str | None) -> dict[str, Any]:
    """Decode a record value into a JSON object or raise InvalidMessageError saying why."""
    if raw is None:
        raise InvalidMessageError("empty record (no value)")
    if isinstance(raw, bytes):
        if len(raw) > MAX_RECORD_BYTES:
            raise InvalidMessageError(f"record of {len(raw)} bytes is over {MAX_RECORD_BYTES}")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidMessageError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    else:
        text = raw
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidMessageError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidMessageError(f"expected a JSON object, got {type(data).__name__}")
    return data


def decode_chat_message(raw: bytes | str | None) -> ChatMessage:
    """Parse a commands-topic record (any accepted shape) into a ChatMessage."""
    return ChatMessage.from_json_bytes(raw)


def decode_speak_message(raw: bytes | str | None) -> SpeakMessage:
    """Parse a speak-topic record into a SpeakMessage."""
    return SpeakMessage.from_json_bytes(raw)
