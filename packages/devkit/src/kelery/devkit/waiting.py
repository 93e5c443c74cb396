"""Polling for tests that wait on other processes: one helper instead of one per test file.

Integration tests wait for a worker to execute, a consumer to commit, a bot to post.
They poll, because the thing they wait for happens in another process; the timeout
is a guard against a hang, never a speed claim (speed lives in ``nox -s bench``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["WaitTimeoutError", "wait_until"]


class WaitTimeoutError(AssertionError):
    """What was awaited did not happen in time: an AssertionError, so pytest reports a failure."""


def wait_until(
    done: Callable[[], bool], what: str, timeout: float = 60.0, interval: float = 0.05
) -> None:
    """Call ``done`` every ``interval`` seconds until it is true.

    Raises :class:`WaitTimeoutError` naming ``what`` once ``timeout`` seconds have
    passed without it.
    """
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise WaitTimeoutError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(interval)
