"""The steady rate limiter, on a fake clock."""

from __future__ import annotations

import pytest

from kelery.producer.rate import IDLE_SLICE, SteadyRate


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def idle(self, seconds: float) -> None:
        self.now += seconds


def test_slots_are_evenly_spaced() -> None:
    clock = FakeClock()
    rate = SteadyRate(4, clock=clock)
    sent_at = []
    for _ in range(5):
        assert rate.wait(clock.idle, lambda: False)
        sent_at.append(clock.now)
    assert sent_at == pytest.approx([100.0, 100.25, 100.5, 100.75, 101.0])


def test_waits_are_sliced_so_a_stop_is_noticed() -> None:
    clock = FakeClock()
    slices: list[float] = []

    def idle(seconds: float) -> None:
        slices.append(seconds)
        clock.idle(seconds)

    rate = SteadyRate(0.5, clock=clock)  # one every 2 s
    rate.wait(idle, lambda: False)
    rate.wait(idle, lambda: False)
    assert max(slices) <= IDLE_SLICE
    assert sum(slices) == pytest.approx(2.0)


def test_no_burst_after_falling_behind() -> None:
    clock = FakeClock()
    rate = SteadyRate(10, clock=clock)
    rate.wait(clock.idle, lambda: False)
    clock.now += 5.0  # the loop stalled for 50 intervals
    rate.wait(clock.idle, lambda: False)
    start = clock.now
    rate.wait(clock.idle, lambda: False)
    assert clock.now - start == pytest.approx(0.1)  # the next one waits a full interval


def test_stop_ends_the_wait() -> None:
    clock = FakeClock()
    rate = SteadyRate(1, clock=clock)
    assert rate.wait(clock.idle, lambda: False)
    assert not rate.wait(clock.idle, lambda: True)


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        SteadyRate(0)


def test_late_wake_ups_are_caught_up_so_the_average_rate_holds() -> None:
    clock = FakeClock()
    rate = SteadyRate(1000, clock=clock)  # 1 ms apart

    def oversleeping(seconds: float) -> None:
        clock.idle(seconds + 0.0015)  # every sleep wakes 1.5 ms late

    start = clock.now
    for _ in range(100):
        rate.wait(oversleeping, lambda: False)
    assert clock.now - start == pytest.approx(0.099, abs=0.003)
