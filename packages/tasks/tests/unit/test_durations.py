from datetime import timedelta

import pytest

from kelery.tasks.durations import format_duration, parse_duration
from kelery.tasks.errors import ChatInputError

DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("45", 45), (" 1H ", 3600)],
)
def test_parses_what_people_type(text: str, seconds: int) -> None:
    assert parse_duration(text, maximum=timedelta(days=3)) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "10x", "m5", "1.5h", "-5m", "5m 3s", "10s!"])
def test_refuses_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ChatInputError, match="not a duration"):
        parse_duration(text, maximum=DAY)


def test_refuses_a_repeated_unit() -> None:
    with pytest.raises(ChatInputError, match="twice"):
        parse_duration("5m5m", maximum=DAY)


def test_refuses_zero() -> None:
    with pytest.raises(ChatInputError, match="at least 1s"):
        parse_duration("0s", maximum=DAY)


def test_is_bounded_by_the_maximum() -> None:
    assert parse_duration("1d", maximum=DAY) == DAY
    with pytest.raises(ChatInputError, match="longer than the limit of 1d"):
        parse_duration("1d1s", maximum=DAY)


@pytest.mark.parametrize(
    ("seconds", "text"), [(10, "10s"), (5400, "1h30m"), (90061, "1d1h1m1s"), (0, "0s")]
)
def test_formats_back(seconds: int, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


def test_round_trips() -> None:
    for text in ["1s", "59m", "1h30m", "2d3h"]:
        assert format_duration(parse_duration(text, maximum=timedelta(days=9))) == text
