import pytest
from hypothesis import given
from hypothesis import strategies as st

from kelery.discord_speaker.splitting import split_content


def test_short_text_is_one_part() -> None:
    assert split_content("hello\nworld") == ["hello\nworld"]


def test_empty_text_has_no_parts() -> None:
    assert split_content("") == []


def test_3000_characters_of_lines_make_two_parts_cut_between_lines() -> None:
    line = "x" * 99 + "\n"  # 100 characters with its newline
    text = line * 30
    parts = split_content(text)
    assert [len(p) for p in parts] == [2000, 1000]
    assert all(p.endswith("\n") for p in parts)


def test_cut_falls_before_the_line_that_would_overflow() -> None:
    first = "a" * 1500 + "\n"
    second = "b" * 600 + "\n"
    assert split_content(first + second) == [first, second]


def test_one_line_longer_than_the_limit_is_cut_hard() -> None:
    text = "y" * 4500
    assert split_content(text) == ["y" * 2000, "y" * 2000, "y" * 500]


def test_text_after_a_hard_cut_continues_the_last_piece() -> None:
    text = "z" * 2500 + "\nend"
    assert split_content(text) == ["z" * 2000, "z" * 500 + "\nend"]


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        split_content("x", limit=0)


@given(
    text=st.text(alphabet=st.sampled_from("ab \n\r"), max_size=400),
    limit=st.integers(min_value=1, max_value=50),
)
def test_parts_rebuild_the_text_and_respect_the_limit(text: str, limit: int) -> None:
    parts = split_content(text, limit)
    assert "".join(parts) == text
    assert all(0 < len(part) <= limit for part in parts)


@given(lines=st.lists(st.text(alphabet="abc", min_size=0, max_size=30), max_size=40))
def test_lines_that_fit_are_never_cut(lines: list[str]) -> None:
    text = "\n".join(lines)
    for part in split_content(text, 31):
        # every part but a hard-cut one ends at a line end or at the end of the text
        assert part.endswith("\n") or text.endswith(part)
