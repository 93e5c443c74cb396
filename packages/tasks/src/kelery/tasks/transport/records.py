"""How a kombu message becomes a Kafka record and back: the record contract.

The record's **value is the message body exactly as Celery (kombu) serialised it**
(JSON text for Celery's default, bytes for other serializers), so any Kafka tool
sees the task payload unchanged. Everything else travels as Kafka headers:

==========================  ===============================================  =========
Kafka header                holds                                            encoding
==========================  ===============================================  =========
``content-type``            kombu content type (``application/json``)        UTF-8
``content-encoding``        kombu content encoding (``utf-8``, ``binary``)   UTF-8
any other name              one kombu message header (Celery's ``task``,     JSON
                            ``id``, ``retries``, ``eta``...), same name
``kombu-property-<name>``   one kombu property (``correlation_id``,          JSON
                            ``reply_to``, ``delivery_mode``, ``priority``)
``kombu-exchange``          exchange it was published to (absent: ``""``)    UTF-8
``kombu-routing-key``       routing key (absent: the queue's name)           UTF-8
``kombu-redelivered``       ``true`` on a requeued copy                      UTF-8
==========================  ===============================================  =========

The record key is the Celery task id (absent for plain kombu messages), which
spreads tasks evenly over the topic's partitions; workers do not read it.

Header names starting with ``kombu-`` or ``kelery-`` are the transport's own and
never become kombu headers (so a dead-letter copy's ``kelery-error`` stays out of
Celery's way). A header value that is not valid JSON is taken as UTF-8 text, so a
hand-written producer may send ``task: kelery.ping`` as plain bytes; ``task`` and
``id`` must then not look like JSON numbers. See ``docs/kafka-transport.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring_ascii
from typing import Any

CONTENT_TYPE = "content-type"
CONTENT_ENCODING = "content-encoding"
PROPERTY_PREFIX = "kombu-property-"
EXCHANGE = "kombu-exchange"
ROUTING_KEY = "kombu-routing-key"
REDELIVERED = "kombu-redelivered"
_RESERVED_PREFIXES = ("kombu-", "kelery-")
_CONTENT_HEADERS = frozenset({CONTENT_TYPE, CONTENT_ENCODING})
_TRANSIENT_PROPERTIES = frozenset({"delivery_tag", "delivery_info", "body_encoding"})

KafkaHeaders = list[tuple[str, bytes]]


_ALLOWED_NAMES: set[str] = set()
_STRINGS: dict[str, bytes] = {}
_MAX_CACHED = 4096
_SHORT_LIST = 4


def _check_header_name(name: str) -> None:
    """Refuse the transport's own header names; remember names already accepted."""
    if name.startswith(_RESERVED_PREFIXES) or name in {CONTENT_TYPE, CONTENT_ENCODING}:
        raise ValueError(f"message header {name!r} uses a name the Kafka transport reserves")
    if len(_ALLOWED_NAMES) < _MAX_CACHED:
        _ALLOWED_NAMES.add(name)


def _json(value: Any) -> bytes:
    """JSON of a header value; plain strings, numbers and constants without json.dumps.

    Short strings repeat from task to task (``lang``, ``task``, ``origin``), so their
    encoding is cached (bounded).
    """
    if value is None:
        return b"null"
    kind = type(value)
    if kind is str:
        cached = _STRINGS.get(value)
        if cached is None:
            cached = encode_basestring_ascii(value).encode()
            if len(value) <= 32:  # not task ids: they never repeat
                if len(_STRINGS) >= _MAX_CACHED:
                    _STRINGS.clear()
                _STRINGS[value] = cached
        return cached
    if kind is bool:
        return b"true" if value else b"false"
    if kind is int:
        return str(value).encode()
    if kind is list and len(value) <= _SHORT_LIST:  # Celery's timelimit: [None, None]
        return b"[" + b",".join([_json(item) for item in value]) + b"]"
    if kind is dict and not value:  # Celery's stamps: {}
        return b"{}"
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def body_bytes(body: Any, encoding: str | None) -> bytes:
    """The record value: kombu's serialised body as bytes (str bodies encoded as declared)."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    text = str(body)
    codec = encoding if encoding and encoding not in {"binary", "ascii-8bit"} else "utf-8"
    return text.encode(codec)


def encode_record(
    message: Mapping[str, Any], *, exchange: str, routing_key: str, redelivered: bool = False
) -> tuple[bytes, KafkaHeaders]:
    """``(value, headers)`` of the record that carries kombu ``message``."""
    headers: KafkaHeaders = []
    content_type = message.get("content-type")
    content_encoding = message.get("content-encoding")
    if content_type:
        headers.append((CONTENT_TYPE, str(content_type).encode()))
    if content_encoding:
        headers.append((CONTENT_ENCODING, str(content_encoding).encode()))
    allowed = _ALLOWED_NAMES
    for name, value in (message.get("headers") or {}).items():
        if name not in allowed:
            _check_header_name(name)
        headers.append((name, _json(value)))
    for name, value in (message.get("properties") or {}).items():
        if name not in _TRANSIENT_PROPERTIES and value is not None:
            headers.append((PROPERTY_PREFIX + name, _json(value)))
    if exchange:
        headers.append((EXCHANGE, exchange.encode()))
    headers.append((ROUTING_KEY, routing_key.encode()))
    if redelivered:
        headers.append((REDELIVERED, b"true"))
    return body_bytes(message.get("body"), content_encoding), headers


def record_key(message: Mapping[str, Any]) -> bytes | None:
    """The record key: the Celery task id, so tasks spread evenly over partitions.

    Messages without one (plain kombu) get no key and librdkafka's sticky partitioner.
    """
    task_id = (message.get("headers") or {}).get("id") or (message.get("properties") or {}).get(
        "correlation_id"
    )
    return str(task_id).encode() if task_id else None


_MISSING = object()
_DECODED: dict[bytes, Any] = {b"null": None, b"true": True, b"false": False}
"""Short header values already decoded (``"py"``, ``0``, a task name): immutable results only."""
_CACHEABLE_LENGTH = 34  # shorter than a quoted task id, which never repeats
_IMMUTABLE = frozenset({str, int, float, bool})
_FRESH: dict[bytes, type[list[Any]] | type[dict[str, Any]]] = {b"[]": list, b"{}": dict}


def _decode_value(raw: bytes | None) -> Any:
    """A header value: JSON, with fast paths for the plain strings and numbers Celery sends."""
    if raw is None:
        return None
    cached = _DECODED.get(raw, _MISSING)
    if cached is not _MISSING:
        return cached
    if raw == b"[null,null]":  # Celery's timelimit; a new list each time (callers may mutate)
        return [None, None]
    fresh = _FRESH.get(raw)
    if fresh is not None:
        return fresh()
    if len(raw) >= 2 and raw[0] == 0x22 and raw[-1] == 0x22 and b"\\" not in raw:
        value: Any = raw[1:-1].decode("utf-8", errors="replace")
    elif raw.isdigit():
        value = int(raw)
    else:
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw.decode("utf-8", errors="replace")
    if len(raw) <= _CACHEABLE_LENGTH and type(value) in _IMMUTABLE:
        if len(_DECODED) >= _MAX_CACHED:
            _DECODED.clear()
            _DECODED.update({b"null": None, b"true": True, b"false": False})
        _DECODED[raw] = value
    return value


# What a header name is to the decoder; decided once per name (names repeat on every record).
(
    _CELERY,
    _CONTENT_TYPE,
    _CONTENT_ENCODING,
    _PROPERTY,
    _EXCHANGE,
    _ROUTING_KEY,
    _REDELIVERED,
) = range(7)
_IGNORED = -1
_ROLES: dict[str, int] = {}


def _role(name: str) -> int:
    """Which part of the kombu payload header ``name`` fills (cached, bounded)."""
    role = _ROLES.get(name)
    if role is not None:
        return role
    if not name.startswith(_RESERVED_PREFIXES) and name not in _CONTENT_HEADERS:
        role = _CELERY
    else:
        role = {
            CONTENT_TYPE: _CONTENT_TYPE,
            CONTENT_ENCODING: _CONTENT_ENCODING,
            EXCHANGE: _EXCHANGE,
            ROUTING_KEY: _ROUTING_KEY,
            REDELIVERED: _REDELIVERED,
        }.get(name, _PROPERTY if name.startswith(PROPERTY_PREFIX) else _IGNORED)
    if len(_ROLES) < _MAX_CACHED:
        _ROLES[name] = role
    return role


def decode_record(
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] | None,
    *,
    queue: str,
    delivery_tag: Any,
) -> dict[str, Any]:
    """The kombu virtual-transport payload for a record read from ``queue``'s topic.

    Raises ValueError when the record lacks ``content-type`` (kombu could not decode
    its body): the caller dead-letters it instead of handing Celery garbage.
    """
    content_type: str | None = None
    content_encoding: str | None = None
    exchange = ""
    routing_key = queue
    redelivered = False
    message_headers: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    decode, cached, roles = _decode_value, _DECODED.get, _ROLES
    for name, raw in headers or ():
        role = roles.get(name)
        if role is None:
            role = _role(name)
        if role == _CELERY:  # the common case, and mostly a value seen before
            known = cached(raw, _MISSING) if raw is not None else None
            message_headers[name] = decode(raw) if known is _MISSING else known
        elif role == _CONTENT_TYPE:
            content_type = (raw or b"").decode("utf-8", errors="replace")
        elif role == _CONTENT_ENCODING:
            content_encoding = (raw or b"").decode("utf-8", errors="replace")
        elif role == _PROPERTY:
            properties[name[len(PROPERTY_PREFIX) :]] = decode(raw)
        elif role == _EXCHANGE:
            exchange = (raw or b"").decode("utf-8", errors="replace")
        elif role == _ROUTING_KEY:
            routing_key = (raw or b"").decode("utf-8", errors="replace")
        elif role == _REDELIVERED:
            redelivered = raw == b"true"
    if not content_type:
        raise ValueError("record has no content-type header (see the Kafka transport contract)")
    properties.update(
        delivery_tag=delivery_tag,
        body_encoding=None,
        delivery_info={
            "exchange": exchange,
            "routing_key": routing_key,
            "redelivered": redelivered,
        },
    )
    return {
        "body": value or b"",
        "content-type": content_type,
        "content-encoding": content_encoding or "utf-8",
        "headers": message_headers,
        "properties": properties,
        "redelivered": redelivered,
    }
