"""``kelery-dev discord`` as a person runs it: a real process, driven over its test API."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest


@pytest.fixture
def fake_process() -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen(
        [sys.executable, "-m", "kelery.devkit.cli", "discord", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=10)


def test_standalone_fake_prints_its_base_injects_and_stops_on_sigterm(
    fake_process: subprocess.Popen[str],
) -> None:
    assert fake_process.stdout is not None
    first = fake_process.stdout.readline()
    assert first.startswith("fake Discord listening on http://127.0.0.1:"), first
    base = first.rsplit(" ", 1)[1].strip()
    assert fake_process.stdout.readline().strip() == f"export DISCORD_API_BASE={base}/api/v10"
    request = urllib.request.Request(  # noqa: S310 - a local http URL we just printed
        f"{base}/_test/channels/general/inject",
        data=json.dumps({"content": "!ping", "author": "alice"}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
        message = json.load(resp)
    assert message["content"] == "!ping"
    assert message["author"]["username"] == "alice"
    fake_process.send_signal(signal.SIGTERM)
    out, _ = fake_process.communicate(timeout=20)
    assert fake_process.returncode == 0
    assert "fake Discord stopped" in out


def test_port_in_use_is_a_clear_error(fake_process: subprocess.Popen[str]) -> None:
    assert fake_process.stdout is not None
    base = fake_process.stdout.readline().rsplit(" ", 1)[1].strip()
    port = base.rsplit(":", 1)[1]
    second = subprocess.run(
        [sys.executable, "-m", "kelery.devkit.cli", "discord", "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == 1
    assert f"port {port}" in second.stderr
    assert "in use" in second.stderr
