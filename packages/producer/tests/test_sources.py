"""The line parser: what each kind of input becomes, and that no input crashes it."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kelery.common.errors import InvalidMessageError
from kelery.common.schemas import decode_chat_message
from kelery.producer.envelope import EnvelopeBuilder
from kelery.producer.sources import (
    MAX_LINE_BYTES,
    InputLine,
    ObjectPayload,
    RawPayload,
    TextPayload,
    lines_from_args,
    lines_from_stream,
    parse_line,
)


def line(data: bytes) -> InputLine:
    return InputLine(data, "in:1")


def test_plain_text_becomes_content() -> None:
    assert parse_line(line("héllo".encode()), json_lines=False, raw=False) == TextPayload("héllo")


def test_raw_text_keeps_the_bytes() -> None:
    assert parse_line(line(b"{not json"), json_lines=False, raw=True) == RawPayload(b"{not json")


def test_json_object_and_string() -> None:
    payload = parse_line(line(b'{"content": "x", "channel_id": 5}'), json_lines=True, raw=False)
    assert payload == ObjectPayload({"content": "x", "channel_id": 5})
    assert parse_line(line(b'"just text"'), json_lines=True, raw=False) == TextPayload("just text")


def test_raw_json_accepts_any_json_value_as_typed() -> None:
    assert parse_line(line(b"[1, 2]"), json_lines=True, raw=True) == RawPayload(b"[1, 2]")


@pytest.mark.parametrize(
    ("data", "json_lines", "reason"),
    [
        (b"\xff\xfe", False, "not UTF-8"),
        (b"{oops", True, "not JSON"),
        (b"[1]", True, "expected a JSON object or string, got list"),
        (b"{oops", True, "in:1"),
    ],
)
def test_bad_lines_say_where_and_why(data: bytes, json_lines: bool, reason: str) -> None:
    with pytest.raises(InvalidMessageError, match=reason):
        parse_line(line(data), json_lines=json_lines, raw=False)


def test_a_line_too_long_for_a_record_is_refused() -> None:
    with pytest.raises(InvalidMessageError, match="over"):
        parse_line(line(b"x" * (MAX_LINE_BYTES + 1)), json_lines=False, raw=False)


def test_stream_skips_blank_lines_and_strips_line_endings() -> None:
    stream = io.BytesIO(b"one\r\n\n   \ntwo\nthree")
    got = list(lines_from_stream(stream, "f.txt"))
    assert [(x.data, x.origin) for x in got] == [
        (b"one", "f.txt:1"),
        (b"two", "f.txt:4"),
        (b"three", "f.txt:5"),
    ]


def test_arguments_are_taken_as_typed() -> None:
    got = list(lines_from_args(["a b", ""]))
    assert [(x.data, x.origin) for x in got] == [(b"a b", "argument 1"), (b"", "argument 2")]


@given(data=st.binary(max_size=300), json_lines=st.booleans(), raw=st.booleans())
def test_no_bytes_crash_the_parser(data: bytes, json_lines: bool, raw: bool) -> None:
    try:
        payload = parse_line(line(data), json_lines=json_lines, raw=raw)
    except InvalidMessageError as exc:
        reason = str(exc)
        assert reason.startswith("in:1: "), reason  # says where, for any input
        return
    if raw:
        assert payload == RawPayload(data)
    elif not json_lines:
        assert payload == TextPayload(data.decode("utf-8"))
    else:
        assert isinstance(payload, TextPayload | ObjectPayload)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
object_lines = st.dictionaries(
    st.sampled_from(["content", "uuid", "timestamp", "channel_id", "author_id", "source", "x"]),
    json_values,
).map(lambda d: json.dumps(d).encode())


@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode), object_lines))
def test_every_accepted_line_becomes_a_valid_envelope(data: bytes) -> None:
    """Parser and envelope together: refuse with InvalidMessageError, or yield a valid record."""
    builder = EnvelopeBuilder(source="test")
    for json_lines in (False, True):
        try:
            template = builder.compile(parse_line(line(data), json_lines=json_lines, raw=False))
        except InvalidMessageError:
            continue
        decoded = decode_chat_message(template.build())
        assert decoded.source
