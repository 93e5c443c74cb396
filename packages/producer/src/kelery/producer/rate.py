"""A steady send rate: one message every ``1/R`` seconds, without bursts.

Slots are scheduled on an absolute clock (``start + n/R``), so the average rate
stays exact however long each send takes and however late a sleep wakes up.
When the loop falls further behind than :data:`CATCH_UP` or one interval,
whichever is longer (a full queue, a stalled disk), the schedule restarts from
now instead of bursting to catch up: "steady" means the broker never sees more
than a few milliseconds' worth of records above the asked rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable

IDLE_SLICE = 0.1
"""Longest single wait, so a stop request is noticed within this many seconds."""
CATCH_UP = 0.005
"""How far behind schedule (seconds) the limiter still catches up rather than restarts."""


class SteadyRate:
    """Paces a loop to ``per_second`` iterations per second."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        if per_second <= 0:
            raise ValueError("rate must be positive; use no limiter for unlimited")
        self.interval = 1.0 / per_second
        self._slack = max(self.interval, CATCH_UP)
        self._clock = clock
        self._next: float | None = None

    def delay(self) -> float:
        """Seconds until the next slot is due (0 when it is due now)."""
        now = self._clock()
        if self._next is None or now - self._next > self._slack:
            self._next = now
        return max(0.0, self._next - now)

    def take(self) -> None:
        """Claim the current slot; the next is one interval later."""
        if self._next is None:
            self._next = self._clock()
        self._next += self.interval

    def wait(self, idle: Callable[[float], object], stopped: Callable[[], bool]) -> bool:
        """Wait for the next slot, calling ``idle(seconds)`` meanwhile; False if stopped.

        ``idle`` is the producer's ``poll``, so delivery reports are served
        while the loop waits instead of sleeping blind.
        """
        while True:
            if stopped():
                return False
            remaining = self.delay()
            if remaining <= 0:
                self.take()
                return True
            idle(min(remaining, IDLE_SLICE))
