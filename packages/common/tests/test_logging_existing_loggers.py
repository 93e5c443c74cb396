"""A logging_config.json must not silence loggers created before setup_logging ran."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from kelery.common.logging import setup_logging
from kelery.common.settings import LoggingSettings


def test_config_file_keeps_existing_loggers(tmp_path: Path) -> None:
    early = logging.getLogger("kelery.test.created_before_setup")
    config = tmp_path / "logging_config.json"
    config.write_text(
        json.dumps({"version": 1, "root": {"level": "INFO", "handlers": []}}), encoding="utf-8"
    )
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    try:
        setup_logging(LoggingSettings(config=config))
        assert not early.disabled
        assert early.isEnabledFor(logging.INFO)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
