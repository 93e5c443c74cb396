"""Decisions: every record becomes exactly one action, and no input makes deciding raise."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kelery.common.contracts import CHAT_TASKS, REPLY_TO_KWARG, ROUTES_KWARG, ReplyTo
from kelery.common.schemas import ChatMessage
from kelery.consumer.decide import (
    PLAIN_MESSAGE_KWARG,
    DeadLetter,
    Decider,
    Ignore,
    Reply,
    SendTask,
)
from kelery.consumer.routing import Route, RoutingTable

DECIDER = Decider(RoutingTable.default(), default_queue="kelery")


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def test_routed_command_becomes_a_task_with_reply_target() -> None:
    message = ChatMessage(
        content='!echo hello "big world"', channel_id="42", author_name="ada", source="test"
    )
    decision = DECIDER.decide(message.to_json_bytes())
    assert decision == SendTask(
        CHAT_TASKS["echo"],
        args=("hello", "big world"),
        kwargs={
            REPLY_TO_KWARG: ReplyTo(
                channel_id="42", in_reply_to=message.uuid, author_name="ada"
            ).model_dump()
        },
        queue="kelery",
        command="echo",
    )


def test_help_gets_the_routing_table_and_other_commands_do_not() -> None:
    table = RoutingTable(
        {"ping": Route(CHAT_TASKS["ping"]), "aide": Route(CHAT_TASKS["help"], "q2")}
    )
    decider = Decider(table)
    helped = decider.decide(_json({"uuid": "u", "content": "!aide"}))
    pinged = decider.decide(_json({"uuid": "u", "content": "!ping"}))
    assert isinstance(helped, SendTask)
    assert isinstance(pinged, SendTask)
    assert helped.kwargs[ROUTES_KWARG] == {"ping": CHAT_TASKS["ping"], "aide": CHAT_TASKS["help"]}
    assert ROUTES_KWARG not in pinged.kwargs


def test_route_queue_wins_over_default_queue() -> None:
    decider = Decider(RoutingTable({"report": Route("app.report", "reports")}), default_queue="q")
    decision = decider.decide(_json({"uuid": "u", "content": "!report"}))
    assert isinstance(decision, SendTask)
    assert decision.queue == "reports"


def test_unknown_command_is_answered_not_dead_lettered() -> None:
    decision = DECIDER.decide(_json({"uuid": "u1", "content": "!dance now", "channel_id": 7}))
    assert isinstance(decision, Reply)
    assert decision.message.channel_id == "7"
    assert decision.message.in_reply_to == "u1"
    assert "unknown command !dance" in decision.message.content
    assert "try !help" in decision.message.content


def test_a_replayed_unknown_command_gets_the_same_reply_uuid() -> None:
    """The speaker de-duplicates by a nonce from the reply uuid: a replay must repeat it."""
    record = _json({"uuid": "u1", "content": "!dance", "channel_id": "7"})
    first, replay = DECIDER.decide(record), DECIDER.decide(record)
    other = DECIDER.decide(_json({"uuid": "u2", "content": "!dance", "channel_id": "7"}))
    assert isinstance(first, Reply)
    assert isinstance(replay, Reply)
    assert isinstance(other, Reply)
    assert first.message.uuid == replay.message.uuid != other.message.uuid
    assert first.message.uuid != "u1"  # the reply is a message of its own


def test_a_replayed_unknown_command_without_uuid_gets_the_same_reply_uuid() -> None:
    record = _json({"content": "!dance", "channel_id": "7"})
    first, replay = DECIDER.decide(record), DECIDER.decide(record)
    other = DECIDER.decide(_json({"content": "!dance", "channel_id": "8"}))
    assert isinstance(first, Reply)
    assert isinstance(replay, Reply)
    assert isinstance(other, Reply)
    assert first.message.uuid == replay.message.uuid != other.message.uuid


def test_only_names_in_the_table_are_sent() -> None:
    decider = Decider(RoutingTable({}))
    decision = decider.decide(_json({"uuid": "u", "content": "!ping"}))
    assert isinstance(decision, Reply)


def test_plain_message_is_ignored_without_a_plain_task() -> None:
    assert isinstance(DECIDER.decide(_json({"uuid": "u", "content": "hello"})), Ignore)


def test_plain_message_goes_to_the_plain_task_with_the_whole_message() -> None:
    decider = Decider(RoutingTable.default(), plain_message_task="kelery.record_message")
    decision = decider.decide(_json({"uuid": "u", "content": "hi there", "channel_id": "9"}))
    assert isinstance(decision, SendTask)
    assert decision.task == "kelery.record_message"
    assert decision.args == ()
    sent = decision.kwargs[PLAIN_MESSAGE_KWARG]
    assert sent["content"] == "hi there"
    assert sent["channel_id"] == "9"
    assert sent["schema"] == "kelery.chat/1"
    json.dumps(sent)  # JSON-ready, as Celery's json serializer needs


def test_custom_prefix() -> None:
    decider = Decider(RoutingTable.default(), prefix="?")
    assert isinstance(decider.decide(_json({"uuid": "u", "content": "?ping"})), SendTask)
    assert isinstance(decider.decide(_json({"uuid": "u", "content": "!ping"})), Ignore)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"uuid": "u"}', "content"),
        (b'{"content": 5}', "content"),
        (None, "empty record"),
    ],
)
def test_bad_records_are_dead_lettered_with_the_reason(value: bytes | None, reason: str) -> None:
    decision = DECIDER.decide(value)
    assert isinstance(decision, DeadLetter)
    assert reason in decision.reason


def test_seed_producer_shape() -> None:
    seed = {"uuid": "5f1c", "content": "!ping", "timestamp": "2024-05-01T12:00:00"}
    decision = DECIDER.decide(_json(seed))
    assert isinstance(decision, SendTask)
    assert decision.task == CHAT_TASKS["ping"]
    assert decision.kwargs[REPLY_TO_KWARG]["in_reply_to"] == "5f1c"


def test_seed_listener_shape() -> None:
    seed = {"uuid": "ab", "content": "!echo hi", "author_id": 123, "channel_id": 987654321012345}
    decision = DECIDER.decide(_json(seed))
    assert isinstance(decision, SendTask)
    assert decision.args == ("hi",)
    assert decision.kwargs[REPLY_TO_KWARG]["channel_id"] == "987654321012345"


class _BuggyDecider(Decider):
    def decide_message(
        self, message: ChatMessage, *, record_identity: str | None = None
    ) -> SendTask:
        raise RuntimeError("bug")


def test_an_internal_error_is_dead_lettered_not_raised() -> None:
    decider = _BuggyDecider(RoutingTable.default())
    decision = decider.decide(_json({"uuid": "u", "content": "!ping"}))
    assert decision == DeadLetter("internal error: RuntimeError: bug")


_DECISIONS = (SendTask, Reply, DeadLetter, Ignore)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_chatlike = st.fixed_dictionaries(
    {"content": st.one_of(st.text(), st.just("!"), st.text().map(lambda t: "!" + t))},
    optional={
        "uuid": st.one_of(st.text(max_size=200), st.integers(), st.none()),
        "timestamp": st.one_of(st.text(), st.integers(), st.floats()),
        "channel_id": st.one_of(st.text(), st.integers(), st.booleans(), st.none()),
        "author_id": st.one_of(st.text(), st.integers(), st.none()),
        "author_name": st.one_of(st.text(), st.none()),
        "schema": st.one_of(st.text(), st.none(), st.just("kelery.chat/1")),
    },
)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_no_bytes_make_the_decider_raise(value: bytes) -> None:
    assert isinstance(DECIDER.decide_strict(value), _DECISIONS)


@settings(max_examples=300)
@given(_json_values)
def test_no_json_value_makes_the_decider_raise(value: object) -> None:
    raw = json.dumps(value, allow_nan=True).encode()
    assert isinstance(DECIDER.decide_strict(raw), _DECISIONS)


@settings(max_examples=300)
@given(_chatlike)
def test_no_chat_like_object_makes_the_decider_raise(value: dict[str, Any]) -> None:
    decision = DECIDER.decide_strict(json.dumps(value).encode())
    assert isinstance(decision, _DECISIONS)
    if isinstance(decision, SendTask):
        assert decision.task in CHAT_TASKS.values()
