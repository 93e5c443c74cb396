"""Stable Discord nonces, so re-posting a message after a crash creates no duplicate.

Discord accepts a ``nonce`` of at most 25 characters and, with ``enforce_nonce``,
answers a second post with the same nonce (same author, within a few minutes)
with the first message instead of creating another. The nonce is derived only
from the SpeakMessage uuid and the part number, so every retry of the same part
carries the same nonce, and two parts of one long message never share one.
"""

from __future__ import annotations

import hashlib

NONCE_LENGTH = 25
_DIGEST_CHARS = 20
MAX_PARTS = 10_000


def post_nonce(message_uuid: str, part: int = 0) -> str:
    """The nonce of part ``part`` (0-based) of the message ``message_uuid``.

    ``<20 hex of sha256(uuid)>-<part, 4 digits>``: exactly 25 characters, whatever
    the uuid looks like (the seed's producers did not always send a real UUID).
    """
    if not 0 <= part < MAX_PARTS:
        raise ValueError(f"part must be in [0, {MAX_PARTS}), got {part}")
    digest = hashlib.sha256(message_uuid.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]
    return f"{digest}-{part:04d}"
