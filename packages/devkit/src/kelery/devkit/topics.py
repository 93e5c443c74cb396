"""Unique topic names for tests, so no test ever reads another test's records."""

from __future__ import annotations

import re
import uuid

__all__ = ["unique_topic_name"]

_ILLEGAL = re.compile(r"[^a-zA-Z0-9._-]+")
_MAX_HINT = 60  # Kafka allows 249 characters; short names keep broker logs readable.


def unique_topic_name(hint: str = "", prefix: str = "t") -> str:
    """Return ``<prefix>-<hint>-<8 hex>``, with `hint` reduced to Kafka's legal characters."""
    clean = _ILLEGAL.sub("-", hint).strip("-.")[:_MAX_HINT].rstrip("-.")
    parts = [prefix, clean, uuid.uuid4().hex[:8]] if clean else [prefix, uuid.uuid4().hex[:8]]
    return "-".join(parts)
