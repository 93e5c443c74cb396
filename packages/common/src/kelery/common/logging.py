"""One logging setup for every Kelery process.

A ``logging_config.json`` (the seed's convention; path from ``LOG_CONFIG``) is
applied with :func:`logging.config.dictConfig` when it exists; otherwise a
console handler writes either readable text or JSON lines (``LOG_FORMAT=json``)
for log shippers. Either way every handler gets the redacting filter, so a
registered secret never reaches an output.
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.config
import sys
from datetime import UTC, datetime
from typing import Any

from kelery.common.redaction import RedactingFilter
from kelery.common.settings import LoggingSettings

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({})))


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise ``record``; values that are not JSON become their ``str``."""
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, default=str, ensure_ascii=False)


def _attach_redaction() -> None:
    """Put the redactor on every handler, the root's and any a dictConfig gave a named logger."""
    redactor = RedactingFilter()
    loggers = [logging.getLogger()] + [
        item
        for item in logging.root.manager.loggerDict.values()
        if isinstance(item, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(redactor)


def setup_logging(settings: LoggingSettings | None = None, *, level: str | None = None) -> None:
    """Configure the root logger once for this process.

    ``level`` (from a CLI's ``--verbose``/``--quiet``) wins over the settings.
    """
    settings = settings or LoggingSettings()
    if settings.config.is_file():
        config = json.loads(settings.config.read_text(encoding="utf-8"))
        # dictConfig disables every logger that already exists unless told otherwise,
        # and a CLI imports its modules (and creates their loggers) before this runs.
        if isinstance(config, dict):
            config.setdefault("disable_existing_loggers", False)
        logging.config.dictConfig(config)
        if level is not None:
            logging.getLogger().setLevel(level)
    else:
        handler = logging.StreamHandler(sys.stderr)
        formatter: logging.Formatter = (
            JsonLinesFormatter() if settings.format == "json" else logging.Formatter(TEXT_FORMAT)
        )
        handler.setFormatter(formatter)
        root = logging.getLogger()
        for old in list(root.handlers):
            root.removeHandler(old)
        root.addHandler(handler)
        root.setLevel(level or settings.level)
    _attach_redaction()


def add_verbosity_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    *,
    quiet_help: str = "log warnings and errors only",
) -> None:
    """Add the ``-v/--verbose`` and ``-q/--quiet`` pair every Kelery CLI takes."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    group.add_argument("-q", "--quiet", action="store_true", help=quiet_help)


def level_from_arguments(args: argparse.Namespace) -> str | None:
    """The level ``-v``/``-q`` ask for, or None to keep the settings' ``LOG_LEVEL``."""
    if getattr(args, "verbose", False):
        return "DEBUG"
    if getattr(args, "quiet", False):
        return "WARNING"
    return None
