"""The fast envelope: same shape as ChatMessage.to_json_bytes, fresh uuid and time per send."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from kelery.common.errors import InvalidMessageError
from kelery.common.schemas import CHAT_SCHEMA, ChatMessage, decode_chat_message
from kelery.producer.envelope import EnvelopeBuilder, FixedValue, MillisecondClock, Uuid4Pool
from kelery.producer.sources import ObjectPayload, RawPayload, TextPayload


def test_uuid_pool_gives_distinct_version_4_uuids() -> None:
    pool = Uuid4Pool()
    taken = [pool.take().decode() for _ in range(5000)]  # crosses a batch boundary
    assert len(set(taken)) == len(taken)
    for text in taken[:50] + taken[-50:]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_clock_is_iso_utc_with_milliseconds_and_current() -> None:
    before = datetime.now(UTC)
    stamp = MillisecondClock().now().decode()
    parsed = datetime.fromisoformat(stamp)
    assert stamp.endswith("Z")
    assert len(stamp) == len("2026-01-01T00:00:00.000Z")
    assert before - timedelta(milliseconds=1) <= parsed <= datetime.now(UTC)


def test_text_envelope_is_a_chat_message_with_our_fields() -> None:
    builder = EnvelopeBuilder(source="kelery-produce", channel_id="123", author_name="ops")
    template = builder.compile(TextPayload('say "hi" é\n'))
    first, second = template.build(), template.build()
    message = decode_chat_message(first)
    assert message.schema_ == CHAT_SCHEMA
    assert message.content == 'say "hi" é\n'
    assert message.source == "kelery-produce"
    assert message.channel_id == "123"
    assert message.author_name == "ops"
    assert decode_chat_message(second).uuid != message.uuid
    assert template.key == b"123"  # keyed by channel, like the listener's records


def test_fast_envelope_has_the_same_keys_in_the_same_order_as_the_model() -> None:
    import json

    builder = EnvelopeBuilder(source="s", channel_id="1")
    fast = json.loads(builder.compile(TextPayload("x")).build())
    slow = json.loads(ChatMessage(content="x", source="s", channel_id="1").to_json_bytes())
    assert list(fast) == list(slow)


def test_explicit_key_wins_over_channel() -> None:
    template = EnvelopeBuilder(source="s", key="k1").compile(
        ObjectPayload({"content": "x", "channel_id": 9})
    )
    assert template.key == b"k1"
    assert decode_chat_message(template.build()).channel_id == "9"


def test_object_fields_win_over_defaults_and_extras_are_dropped() -> None:
    builder = EnvelopeBuilder(source="cli", channel_id="1")
    template = builder.compile(ObjectPayload({"content": "c", "channel_id": "2", "nope": 1}))
    message = decode_chat_message(template.build())
    assert (message.channel_id, message.source) == ("2", "cli")
    assert b"nope" not in template.build()


def test_object_with_its_own_uuid_is_sent_as_given() -> None:
    template = EnvelopeBuilder(source="s").compile(
        ObjectPayload({"uuid": "fixed-1", "content": "c", "timestamp": "2024-01-01T00:00:00Z"})
    )
    assert isinstance(template, FixedValue)
    assert decode_chat_message(template.build()).uuid == "fixed-1"
    assert template.build() == template.build()


def test_raw_payload_is_untouched() -> None:
    template = EnvelopeBuilder(source="s", key="k").compile(RawPayload(b"\x00anything"))
    assert (template.build(), template.key) == (b"\x00anything", b"k")


@pytest.mark.parametrize(
    "fields",
    [
        {"channel_id": "1"},  # no content
        {"content": 5},
        {"content": "\ud800"},  # a lone surrogate from a JSON escape
        {"content": "x", "timestamp": "yesterday"},
    ],
)
def test_objects_that_cannot_be_messages_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidMessageError, match="not a valid message"):
        EnvelopeBuilder(source="s").compile(ObjectPayload(fields))


def test_uuid_pool_take_many_is_distinct_across_refills() -> None:
    pool = Uuid4Pool()
    taken = pool.take_many(3) + pool.take_many(5000) + [pool.take()]
    assert len(set(taken)) == len(taken) == 5004
    assert all(uuid.UUID(t.decode()).version == 4 for t in taken[-10:])


def test_build_chunk_matches_single_builds() -> None:
    builder = EnvelopeBuilder(source="s", key="k")
    text = builder.compile(TextPayload("a"))
    raw = builder.compile(RawPayload(b"raw"))
    chunk = builder.build_chunk([text, raw, text])
    assert [record["key"] for record in chunk] == [b"k", b"k", b"k"]
    assert chunk[1]["value"] == b"raw"
    first, third = decode_chat_message(chunk[0]["value"]), decode_chat_message(chunk[2]["value"])
    assert (first.content, third.content) == ("a", "a")
    assert first.uuid != third.uuid
    assert first.timestamp == third.timestamp  # one clock read per chunk


def test_object_with_a_timestamp_but_no_uuid_gets_a_fresh_uuid_per_record() -> None:
    """``--count``/``--forever`` repeat one line: each record must still be its own message."""
    builder = EnvelopeBuilder(source="s")
    template = builder.compile(ObjectPayload({"content": "c", "timestamp": "2024-01-01T00:00:00Z"}))
    single = [decode_chat_message(template.build()) for _ in range(3)]
    chunk = [decode_chat_message(r["value"]) for r in builder.build_chunk([template] * 3)]
    messages = single + chunk
    assert len({m.uuid for m in messages}) == len(messages)
    assert {m.timestamp for m in messages} == {datetime(2024, 1, 1, tzinfo=UTC)}
    expected = ChatMessage.model_validate(
        {"content": "c", "source": "s", "timestamp": "2024-01-01T00:00:00Z"}
    )
    assert messages[0].model_dump(exclude={"uuid"}) == expected.model_dump(exclude={"uuid"})
