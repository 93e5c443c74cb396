import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kelery.common.errors import InvalidMessageError
from kelery.common.schemas import (
    CHAT_SCHEMA,
    ChatMessage,
    SpeakMessage,
    decode_chat_message,
    decode_speak_message,
    parse_command,
)

ids = st.one_of(st.none(), st.integers(min_value=0, max_value=2**64 - 1).map(str))


@given(
    content=st.text(),
    source=st.text(max_size=20),
    channel_id=ids,
    author_id=ids,
    author_name=st.one_of(st.none(), st.text(max_size=40)),
)
def test_chat_message_round_trips(
    content: str,
    source: str,
    channel_id: str | None,
    author_id: str | None,
    author_name: str | None,
) -> None:
    message = ChatMessage(
        content=content,
        source=source,
        channel_id=channel_id,
        author_id=author_id,
        author_name=author_name,
    )
    assert decode_chat_message(message.to_json_bytes()) == message


@given(content=st.text(), channel_id=ids, status=st.sampled_from(["ok", "error", "info"]))
def test_speak_message_round_trips(content: str, channel_id: str | None, status: str) -> None:
    message = SpeakMessage.model_validate(
        {"content": content, "channel_id": channel_id, "status": status}
    )
    assert decode_speak_message(message.to_json_bytes()) == message


@given(st.binary(max_size=512))
def test_arbitrary_bytes_parse_or_raise_one_typed_error(raw: bytes) -> None:
    try:
        message = decode_chat_message(raw)
    except InvalidMessageError:
        return
    assert isinstance(message, ChatMessage)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_arbitrary_json_parses_or_raises_one_typed_error(value: object) -> None:
    with contextlib.suppress(InvalidMessageError):
        decode_chat_message(json.dumps(value).encode())


def test_wire_form_carries_the_schema_version() -> None:
    wire = json.loads(ChatMessage(content="hi").to_json_bytes())
    assert wire["schema"] == CHAT_SCHEMA
    assert "schema_" not in wire


def test_seed_producer_shape_is_accepted() -> None:
    raw = b'{"uuid": "6d1f", "content": "Hello Kafka!", "timestamp": "2024-05-01T10:00:00"}'
    message = decode_chat_message(raw)
    assert (message.uuid, message.content) == ("6d1f", "Hello Kafka!")
    assert message.timestamp.year == 2024


def test_seed_listener_shape_with_numeric_snowflakes_is_accepted() -> None:
    raw = b'{"uuid": "u1", "content": "!ping", "author_id": 1234567890123456789, "channel_id": 42}'
    message = decode_chat_message(raw)
    assert message.author_id == "1234567890123456789"
    assert message.channel_id == "42"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"uuid": "u"}', "content"),
        (b'{"content": "x", "schema": "kelery.chat/99"}', "schema"),
        (None, "empty"),
    ],
)
def test_bad_records_say_why(raw: bytes | None, why: str) -> None:
    with pytest.raises(InvalidMessageError, match=why):
        decode_chat_message(raw)


@pytest.mark.parametrize(
    ("content", "name", "args"),
    [
        ("!remind 10m stretch", "remind", ("10m", "stretch")),
        ("  !PING  ", "ping", ()),
        ('!echo "a b" c', "echo", ("a b", "c")),
        ('!echo "unbalanced', "echo", ('"unbalanced',)),
        ("hello !ping", None, None),
        ("!", None, None),
        ("!!", None, None),
    ],
)
def test_parse_command(content: str, name: str | None, args: tuple[str, ...] | None) -> None:
    command = parse_command(content)
    if name is None:
        assert command is None
    else:
        assert command is not None
        assert (command.name, command.args) == (name, args)


@given(st.text(), st.sampled_from(["!", "?", "kel "]))
def test_no_input_crashes_the_command_parser(content: str, prefix: str) -> None:
    command = parse_command(content, prefix)
    if command is not None:
        assert command.name == command.name.lower()
        assert content.strip().startswith(prefix)


def test_numeric_uuids_are_read_as_text_by_both_messages() -> None:
    assert decode_chat_message(b'{"uuid": 7, "content": "x"}').uuid == "7"
    assert decode_speak_message(b'{"uuid": 7, "content": "x"}').uuid == "7"
