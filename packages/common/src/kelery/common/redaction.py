"""Keep secrets out of every log line.

Settings register each ``SecretStr`` value here as they are loaded; the logging
filter replaces any registered value in a record's final text (message, args and
exception) with ``**********``. ``SecretStr`` already hides itself in ``repr``;
this catches the cases it cannot, such as a client library echoing a password
back in an error string.
"""

from __future__ import annotations

import logging
import threading

MASK = "**********"
_MIN_SECRET_LENGTH = 4

_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
_ordered: tuple[str, ...] = ()


def register_secret(value: str | None) -> None:
    """Remember ``value`` as a secret; short values are ignored to avoid masking noise."""
    global _secrets, _ordered  # noqa: PLW0603 - one process-wide, append-only set, guarded by _lock
    if value is None or len(value) < _MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets = _secrets | {value}
        _ordered = tuple(sorted(_secrets, key=len, reverse=True))


def redact(text: str) -> str:
    """Return ``text`` with every registered secret masked.

    Longest first: when one secret contains another, masking the short one first
    would leave the rest of the long one readable.
    """
    for secret in _ordered:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks registered secrets in the fully formatted record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask secrets in place; never drops a record."""
        if not _secrets:
            return True
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            masked_exc = redact(formatted)
            if masked_exc != formatted:
                record.exc_info, record.exc_text = None, masked_exc
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        for key, value in vars(record).items():
            # ``extra={...}`` fields, which a JSON-lines formatter writes out as they are.
            if key not in _RECORD_ATTRS and isinstance(value, str):
                setattr(record, key, redact(value))
        return True
