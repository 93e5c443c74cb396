"""Durations as people type them in chat: ``10s``, ``5m``, ``1h30m``, ``2d``.

``remind`` needs a delay it can hand to Celery as a countdown; a typo must come
back to the person as a clear sentence, never as a task that waits forever, so
parsing is strict (the whole text must be units) and the result is bounded.
"""

from __future__ import annotations

import re
from datetime import timedelta

from kelery.tasks.errors import ChatInputError

_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)([dhms])")
_WHOLE = re.compile(r"(?:\d+[dhms])+")


def parse_duration(text: str, *, maximum: timedelta) -> timedelta:
    """Parse ``text`` such as ``1h30m`` into a timedelta between 1 s and ``maximum``.

    A bare number means seconds. Units may not repeat (``5m5m`` is a typo, not
    ten minutes). Raises ChatInputError with a message meant for the person.
    """
    cleaned = text.strip().lower()
    if cleaned.isdigit():
        cleaned += "s"
    if not _WHOLE.fullmatch(cleaned):
        raise ChatInputError(
            f"{text!r} is not a duration; use e.g. 10s, 5m, 1h30m or 2d (units d, h, m, s)"
        )
    seen: set[str] = set()
    seconds = 0
    for amount, unit in _PART.findall(cleaned):
        if unit in seen:
            raise ChatInputError(f"{text!r} gives the unit {unit!r} twice")
        seen.add(unit)
        seconds += int(amount) * _UNIT_SECONDS[unit]
    delay = timedelta(seconds=seconds)
    if delay < timedelta(seconds=1):
        raise ChatInputError("the delay must be at least 1s")
    if delay > maximum:
        raise ChatInputError(f"{text!r} is longer than the limit of {format_duration(maximum)}")
    return delay


def format_duration(delay: timedelta) -> str:
    """Write ``delay`` back the way it is typed: ``1h30m``, ``45s``, ``2d``."""
    remaining = int(delay.total_seconds())
    if remaining <= 0:
        return "0s"
    parts = []
    for unit, size in _UNIT_SECONDS.items():
        amount, remaining = divmod(remaining, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
