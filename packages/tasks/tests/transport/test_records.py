"""The record contract: kombu message <-> Kafka value and headers, both ways."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kelery.tasks.transport.records import (
    CONTENT_TYPE,
    decode_record,
    encode_record,
    record_key,
)

CELERY_MESSAGE: dict[str, Any] = {
    "body": '[[1, 2], {}, {"callbacks": null}]',
    "content-type": "application/json",
    "content-encoding": "utf-8",
    "headers": {
        "lang": "py",
        "task": "kelery.ping",
        "id": "5f0c",
        "eta": None,
        "retries": 0,
        "timelimit": [None, None],
        "argsrepr": "(1, 2)",
        "ignore_result": False,
        "stamps": {},
    },
    "properties": {
        "correlation_id": "5f0c",
        "reply_to": "ab12",
        "delivery_mode": 2,
        "priority": 0,
        "delivery_tag": "x",
        "delivery_info": {"exchange": "", "routing_key": "kelery"},
        "body_encoding": None,
    },
}


def test_value_is_the_body_exactly_and_headers_round_trip() -> None:
    value, headers = encode_record(CELERY_MESSAGE, exchange="", routing_key="kelery")
    assert value == CELERY_MESSAGE["body"].encode()
    names = [name for name, _ in headers]
    assert "task" in names
    assert dict(headers)["task"] == b'"kelery.ping"'
    payload = decode_record(value, headers, queue="kelery", delivery_tag=7)
    assert payload["body"] == value
    assert payload["content-type"] == "application/json"
    assert payload["headers"] == CELERY_MESSAGE["headers"]
    assert payload["properties"]["correlation_id"] == "5f0c"
    assert payload["properties"]["reply_to"] == "ab12"
    assert payload["properties"]["delivery_tag"] == 7
    assert payload["properties"]["delivery_info"] == {
        "exchange": "",
        "routing_key": "kelery",
        "redelivered": False,
    }
    assert "delivery_tag" not in {n.removeprefix("kombu-property-") for n in names}


def test_the_record_key_is_the_task_id() -> None:
    assert record_key(CELERY_MESSAGE) == b"5f0c"
    assert record_key({"headers": {}, "properties": {}}) is None


def test_plain_text_header_values_are_accepted() -> None:
    payload = decode_record(
        b"[[], {}, {}]",
        [(CONTENT_TYPE, b"application/json"), ("task", b"kelery.ping"), ("id", b"abc-1")],
        queue="q",
        delivery_tag=1,
    )
    assert payload["headers"] == {"task": "kelery.ping", "id": "abc-1"}
    assert payload["content-encoding"] == "utf-8"
    assert payload["properties"]["delivery_info"]["routing_key"] == "q"


def test_transport_headers_never_become_celery_headers() -> None:
    payload = decode_record(
        b"{}",
        [
            (CONTENT_TYPE, b"application/json"),
            ("kelery-error", b"boom"),
            ("kombu-redelivered", b"true"),
            ("k1", b'"v1"'),
        ],
        queue="q",
        delivery_tag=1,
    )
    assert payload["headers"] == {"k1": "v1"}
    assert payload["redelivered"] is True


def test_a_record_without_content_type_is_refused() -> None:
    with pytest.raises(ValueError, match="content-type"):
        decode_record(b"not a task", [("note", b"x")], queue="q", delivery_tag=1)


def test_a_reserved_header_name_is_refused_on_publish() -> None:
    message = {**CELERY_MESSAGE, "headers": {"kelery-error": "x"}}
    with pytest.raises(ValueError, match="reserves"):
        encode_record(message, exchange="", routing_key="q")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    st.dictionaries(st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True), json_values, max_size=8)
)
def test_any_json_headers_round_trip(headers: dict[str, Any]) -> None:
    message = {"body": b"\x00\x01", "content-type": "application/x-test", "headers": headers}
    value, kafka_headers = encode_record(message, exchange="ex", routing_key="rk")
    payload = decode_record(value, kafka_headers, queue="q", delivery_tag=1)
    assert payload["body"] == b"\x00\x01"
    assert json.dumps(payload["headers"], sort_keys=True) == json.dumps(headers, sort_keys=True)
    info = payload["properties"]["delivery_info"]
    assert (info["exchange"], info["routing_key"]) == ("ex", "rk")


@given(json_values)
def test_header_values_are_encoded_as_json_dumps_would(value: Any) -> None:
    # the fast paths (cached strings, short lists, {}) must not change a single byte
    _, headers = encode_record(
        {"body": b"", "content-type": "x", "headers": {"h": value}}, exchange="", routing_key="q"
    )
    assert dict(headers)["h"] == json.dumps(value, separators=(",", ":")).encode()


def test_decoded_lists_and_dicts_are_new_objects_each_time() -> None:
    # short values are cached after decoding; a cached list Celery mutated would leak
    headers = [(CONTENT_TYPE, b"x"), ("timelimit", b"[null,null]"), ("stamps", b"{}")]
    first = decode_record(b"", headers, queue="q", delivery_tag=1)
    first["headers"]["timelimit"].append(1)
    first["headers"]["stamps"]["x"] = 1
    second = decode_record(b"", headers, queue="q", delivery_tag=2)
    assert second["headers"] == {"timelimit": [None, None], "stamps": {}}
