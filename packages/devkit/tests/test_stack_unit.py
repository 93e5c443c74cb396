"""kelery-dev up's pieces that need no broker: what it starts, and how it stops processes."""

import subprocess
import sys
import time
from pathlib import Path

from kelery.devkit.stack.components import Component, components, missing
from kelery.devkit.stack.conversation import PostWatcher
from kelery.devkit.stack.supervisor import Supervisor


def test_the_stack_is_every_component_in_start_order(tmp_path: Path) -> None:
    names = [c.name for c in components(tmp_path)]
    assert names == ["worker", "beat", "consumer", "speaker", "listener"]
    assert all(c.argv[0] == sys.executable for c in components(tmp_path))
    assert [c.name for c in components(tmp_path, with_discord=False)] == [
        "worker",
        "beat",
        "consumer",
    ]


def test_every_component_is_installed_in_the_workspace(tmp_path: Path) -> None:
    assert missing(components(tmp_path)) == []


def test_a_missing_component_names_its_distribution() -> None:
    ghost = Component("ghost", "kelery_no_such_pkg.cli", "kelery-ghost", ("true",))
    assert missing([ghost, ghost]) == ["kelery-ghost"]


def test_stop_terminates_a_process_group_including_children(tmp_path: Path) -> None:
    # A parent that ignores nothing and a child that would outlive it: both must go.
    script = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
        "print('started', flush=True); time.sleep(600)"
    )
    supervisor = Supervisor(tmp_path, {"PATH": "/usr/bin:/bin"})
    running = supervisor.start(Component("sleeper", "x", "x", (sys.executable, "-c", script)))
    deadline = time.monotonic() + 30
    while not running.log_contains("started") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.log_contains("started")
    supervisor.stop(grace_s=5)
    assert running.process.returncode is not None
    assert _group_members(running.process.pid, settle_s=10) == ""


def _group_members(pgid: int, settle_s: float) -> str:
    """pgrep's view of the process group, given a killed process a moment to disappear."""
    deadline = time.monotonic() + settle_s
    while True:
        found = subprocess.run(
            ["pgrep", "-g", str(pgid)], capture_output=True, text=True, check=False
        ).stdout.strip()
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_dead_component_is_reported_with_its_log(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path, {})
    code = "import sys; print('boom: bad setting'); sys.exit(2)"
    running = supervisor.start(Component("bad", "x", "x", (sys.executable, "-c", code)))
    running.process.wait(30)
    assert supervisor.exited() == [running]
    assert "boom: bad setting" in running.tail()
    supervisor.stop()


def test_post_watcher_returns_each_post_once(fake_discord: object) -> None:
    from kelery.devkit.fake_discord.control import FakeDiscord

    assert isinstance(fake_discord, FakeDiscord)
    watcher = PostWatcher(fake_discord)
    assert watcher.new_posts() == []
