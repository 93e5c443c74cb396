"""Where messages come from: command-line arguments, a file or stdin, one per line.

Input is read as bytes and decoded line by line, so one bad line (not UTF-8,
not JSON in ``--json`` mode) becomes a clear error naming its place
(``file.txt:3``) instead of ending the whole run, and the other lines still go.

:func:`parse_line` is the single parser; it turns any bytes into a
:class:`Payload` or raises :class:`~kelery.common.errors.InvalidMessageError`,
never anything else (a hypothesis test holds it to that).
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Final

from kelery.common.errors import InvalidMessageError

MAX_LINE_BYTES: Final = 1_000_000
"""A line longer than this cannot become a record a default broker accepts."""


@dataclass(frozen=True)
class InputLine:
    """One line of input and where it came from, for error messages."""

    data: bytes
    origin: str


@dataclass(frozen=True)
class TextPayload:
    """Plain text: becomes the envelope's ``content``."""

    content: str


@dataclass(frozen=True)
class ObjectPayload:
    """A JSON object (``--json``): its fields become the envelope's fields."""

    fields: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class RawPayload:
    """``--raw``: the bytes go out exactly as given."""

    value: bytes


Payload = TextPayload | ObjectPayload | RawPayload


def parse_line(line: InputLine, *, json_lines: bool, raw: bool) -> Payload:
    """Turn one input line into a payload, or raise InvalidMessageError saying why.

    - plain text: must be UTF-8; becomes ``content``. With ``--raw`` any bytes
      go, as they are.
    - ``--json``: must be a JSON object (its fields) or a JSON string (the
      content); with ``--raw`` any JSON value is accepted and sent as typed.
    """
    if len(line.data) > MAX_LINE_BYTES:
        raise InvalidMessageError(
            f"{line.origin}: line of {len(line.data)} bytes is over {MAX_LINE_BYTES}"
        )
    if raw and not json_lines:
        return RawPayload(line.data)
    try:
        text = line.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidMessageError(
            f"{line.origin}: not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    if not json_lines:
        return TextPayload(text)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidMessageError(f"{line.origin}: not JSON ({exc})") from None
    if raw:
        return RawPayload(line.data)
    if isinstance(value, str):
        return TextPayload(value)
    if isinstance(value, dict):
        return ObjectPayload(value)
    raise InvalidMessageError(
        f"{line.origin}: expected a JSON object or string, got {type(value).__name__}"
    )


def _strip_eol(data: bytes) -> bytes:
    if data.endswith(b"\n"):
        data = data[:-1]
    if data.endswith(b"\r"):
        data = data[:-1]
    return data


def lines_from_args(messages: Iterable[str]) -> Iterator[InputLine]:
    """Each positional argument is one message, taken as typed (even if empty)."""
    for number, message in enumerate(messages, 1):
        yield InputLine(message.encode("utf-8", errors="surrogateescape"), f"argument {number}")


def lines_from_stream(stream: BinaryIO, name: str) -> Iterator[InputLine]:
    """Each non-blank line of ``stream`` is one message; line endings are dropped."""
    for number, data in enumerate(stream, 1):
        stripped = _strip_eol(data)
        if stripped.strip():
            yield InputLine(stripped, f"{name}:{number}")


IDLE: Final = InputLine(b"", "<idle>")
"""Yielded by :func:`lines_in_background` when no line came within the wait."""


def lines_in_background(stream: BinaryIO, name: str, wait: float = 0.1) -> Iterator[InputLine]:
    """Read ``stream`` on a thread; yield its lines, or :data:`IDLE` every ``wait`` seconds.

    A blocking read of stdin would stop the produce loop from serving delivery
    reports and from noticing Ctrl-C until the next line arrives; reading on a
    daemon thread keeps the loop turning while ``tail -f | kelery-produce -`` waits.
    """
    lines: queue.Queue[InputLine | None] = queue.Queue(maxsize=10_000)

    def pump() -> None:
        try:
            for line in lines_from_stream(stream, name):
                lines.put(line)
        finally:
            lines.put(None)

    threading.Thread(target=pump, name=f"read-{name}", daemon=True).start()
    while True:
        try:
            item = lines.get(timeout=wait)
        except queue.Empty:
            yield IDLE
            continue
        if item is None:
            return
        yield item
