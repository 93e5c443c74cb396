"""The tests' shared poll: it returns once the condition holds and names what it gave up on."""

from __future__ import annotations

import pytest

from kelery.devkit.waiting import WaitTimeoutError, wait_until


def test_returns_as_soon_as_the_condition_holds() -> None:
    calls: list[int] = []

    def third_time() -> bool:
        calls.append(1)
        return len(calls) == 3

    wait_until(third_time, "the third call", timeout=5, interval=0)
    assert len(calls) == 3


def test_gives_up_naming_what_it_waited_for_as_a_test_failure() -> None:
    with pytest.raises(WaitTimeoutError, match=r"after 0\.05 s waiting for the moon") as raised:
        wait_until(lambda: False, "the moon", timeout=0.05, interval=0.01)
    assert isinstance(raised.value, AssertionError)
