"""Starting the app with a bad setting: one line naming the variable, exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_a_bad_setting_stops_the_worker_naming_the_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "BEAT_"))}
    env["BEAT_SCHEDULE"] = '{"tick": {"task": "kelery.ping", "every": -1}}'
    done = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "kelery.tasks.app", "worker"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "BEAT_SCHEDULE" in done.stderr
    assert "greater than 0" in done.stderr
    assert "Traceback" not in done.stderr
