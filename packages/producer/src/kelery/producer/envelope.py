"""Turn payloads into record values: the common ChatMessage envelope, built cheaply.

Every plain-text message becomes a :class:`~kelery.common.schemas.ChatMessage`
(``schema``, ``uuid``, ``content``, ``timestamp``, ``source``, and the optional
ids). Validating and serialising a pydantic model per record costs more than
producing it, so a payload is validated and serialised *once* into a
:class:`EnvelopeTemplate`; each send only splices in a fresh uuid4 (drawn from a
batch of ``os.urandom``) and the current timestamp (formatted once per
millisecond). The bytes are identical in shape to ``ChatMessage.to_json_bytes``;
a unit test decodes them with the consumer's own ``decode_chat_message``.

``--raw`` payloads skip the envelope and go out byte for byte.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import ValidationError

from kelery.common.errors import InvalidMessageError
from kelery.common.schemas import CHAT_SCHEMA, ChatMessage
from kelery.producer.sources import ObjectPayload, Payload, RawPayload, TextPayload

_HEAD: Final = b'{"schema":"' + CHAT_SCHEMA.encode() + b'","uuid":"'
_GENERATED: Final[set[str]] = {"schema_", "uuid", "content", "timestamp"}
_UUID_BATCH: Final = 4096


class Uuid4Pool:
    """Random (version 4) UUIDs as ASCII bytes, generated a few thousand at a time."""

    def __init__(self) -> None:
        self._pool: list[bytes] = []

    def take(self) -> bytes:
        """One fresh UUID, like ``str(uuid.uuid4()).encode()``."""
        if not self._pool:
            self._pool = self._batch(_UUID_BATCH)
        return self._pool.pop()

    @staticmethod
    def _batch(count: int) -> list[bytes]:
        raw = bytearray(os.urandom(16 * count))
        raw[6::16] = bytes((b & 0x0F) | 0x40 for b in raw[6::16])  # version 4
        raw[8::16] = bytes((b & 0x3F) | 0x80 for b in raw[8::16])  # RFC 4122 variant
        h = raw.hex()
        return [
            f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}-"
            f"{h[i + 16 : i + 20]}-{h[i + 20 : i + 32]}".encode()
            for i in range(0, 32 * count, 32)
        ]


class MillisecondClock:
    """The current UTC time as ISO-8601 bytes (``…T08:50:06.123Z``), formatted once per ms."""

    def __init__(self) -> None:
        self._ms = -1
        self._text = b""

    def now(self) -> bytes:
        """The timestamp for a record produced now."""
        ms = time.time_ns() // 1_000_000
        if ms != self._ms:
            self._ms = ms
            moment = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)
            self._text = moment.strftime("%Y-%m-%dT%H:%M:%S.").encode() + b"%03dZ" % (ms % 1000)
        return self._text


class EnvelopeTemplate:
    """A validated message whose per-send parts (uuid, timestamp) are filled by :meth:`build`."""

    __slots__ = ("_clock", "_middle", "_tail", "_uuid", "key")

    def __init__(
        self,
        content_json: bytes,
        tail: bytes,
        key: bytes | None,
        uuids: Uuid4Pool,
        clock: MillisecondClock,
    ) -> None:
        self._middle = b'","content":' + content_json + b',"timestamp":"'
        self._tail = b'"' + tail + b"}"
        self._uuid = uuids.take
        self._clock = clock.now
        self.key = key

    def build(self) -> bytes:
        """The record value for one send: a fresh uuid and the current timestamp."""
        return b"".join((_HEAD, self._uuid(), self._middle, self._clock(), self._tail))


class FixedValue:
    """A value sent as is: ``--raw`` input, or a JSON object that carried its own uuid/timestamp."""

    __slots__ = ("_value", "key")

    def __init__(self, value: bytes, key: bytes | None) -> None:
        self._value = value
        self.key = key

    def build(self) -> bytes:
        """The same bytes every time."""
        return self._value


Template = EnvelopeTemplate | FixedValue


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class EnvelopeBuilder:
    """Compiles payloads into templates with the CLI's defaults (source, channel, key)."""

    def __init__(
        self,
        *,
        source: str,
        channel_id: str | None = None,
        author_name: str | None = None,
        key: str | None = None,
    ) -> None:
        self._defaults: dict[str, Any] = {"source": source}
        if channel_id is not None:
            self._defaults["channel_id"] = channel_id
        if author_name is not None:
            self._defaults["author_name"] = author_name
        self._key = None if key is None else key.encode("utf-8")
        self._uuids = Uuid4Pool()
        self._clock = MillisecondClock()

    def compile(self, payload: Payload) -> Template:
        """Validate ``payload`` once; raise InvalidMessageError if it cannot be an envelope.

        Fields of a JSON object win over the CLI's defaults. The record key is
        ``--key`` if given, else the message's channel id (the commands topic is
        keyed by channel so a channel's order is kept), else none.
        """
        if isinstance(payload, RawPayload):
            return FixedValue(payload.value, self._key)
        fields = dict(self._defaults)
        if isinstance(payload, TextPayload):
            fields["content"] = payload.content
        else:
            fields.update(payload.fields)
        try:
            message = ChatMessage.model_validate(fields)
            content_json = _json(message.content)
            rest = message.model_dump(
                mode="json", by_alias=True, exclude_none=True, exclude=_GENERATED
            )
            tail = b"".join(b"," + _json(k) + b":" + _json(v) for k, v in rest.items())
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'message'}: {err['msg']}"
                for err in exc.errors(include_url=False, include_input=False)
            )
            raise InvalidMessageError(f"not a valid message: {problems}") from None
        except UnicodeEncodeError as exc:
            raise InvalidMessageError(f"not encodable as UTF-8: {exc.reason}") from None
        key = self._key
        if key is None and message.channel_id is not None:
            key = message.channel_id.encode("utf-8")
        if isinstance(payload, ObjectPayload) and ({"uuid", "timestamp"} & payload.fields.keys()):
            return FixedValue(self._serialise(message), key)
        return EnvelopeTemplate(content_json, tail, key, self._uuids, self._clock)

    @staticmethod
    def _serialise(message: ChatMessage) -> bytes:
        try:
            return message.to_json_bytes()
        except UnicodeEncodeError as exc:
            raise InvalidMessageError(f"message is not encodable as UTF-8: {exc.reason}") from None
