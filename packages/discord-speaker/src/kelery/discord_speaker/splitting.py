"""Cut a text into Discord-sized posts without breaking lines that fit.

Discord refuses a message over 2,000 characters, and a reader copes far better
with a long answer cut between lines than in the middle of one, so parts end at
line boundaries; only a single line longer than the limit is cut hard.
"""

from __future__ import annotations

from kelery.common.schemas import DISCORD_MESSAGE_LIMIT


def split_content(content: str, limit: int = DISCORD_MESSAGE_LIMIT) -> list[str]:
    """Split ``content`` into parts of at most ``limit`` characters.

    Concatenating the parts gives ``content`` back exactly; each part ends at a
    line end, except where a line longer than ``limit`` had to be cut.
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    parts: list[str] = []
    current = ""
    for line in content.splitlines(keepends=True):
        if len(current) + len(line) <= limit:
            current += line
            continue
        if current:
            parts.append(current)
        rest = line
        while len(rest) > limit:
            parts.append(rest[:limit])
            rest = rest[limit:]
        current = rest
    if current:
        parts.append(current)
    return parts
