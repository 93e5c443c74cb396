"""Compiling lines into templates and repeating them."""

from __future__ import annotations

from kelery.common.schemas import decode_chat_message
from kelery.producer.dead_letters import InvalidInput
from kelery.producer.envelope import EnvelopeBuilder
from kelery.producer.messages import compile_lines, repeated
from kelery.producer.sources import IDLE, InputLine, RawPayload


def test_invalid_lines_are_counted_and_skipped_idle_passes_through() -> None:
    invalid = InvalidInput()
    lines = [InputLine(b'{"content":"a"}', "f:1"), IDLE, InputLine(b"{bad", "f:2")]
    out = list(
        compile_lines(
            lines, EnvelopeBuilder(source="s"), json_lines=True, raw=False, on_invalid=invalid
        )
    )
    assert len(out) == 2
    assert out[1] is None
    assert out[0] is not None
    assert decode_chat_message(out[0].build()).content == "a"
    assert invalid.count == 1
    [(line, reason)] = invalid.pending
    assert (line.data, line.origin) == (b"{bad", "f:2")
    assert reason.startswith("f:2: not JSON")


def test_repeated_rounds_and_forever() -> None:
    builder = EnvelopeBuilder(source="s")
    a, b = builder.compile(RawPayload(b"a")), builder.compile(RawPayload(b"b"))
    assert [t.build() for t in repeated([a, b], 3)] == [b"a", b"b"] * 3
    forever = repeated([a, b], None)
    assert [next(forever).build() for _ in range(5)] == [b"a", b"b", b"a", b"b", b"a"]
