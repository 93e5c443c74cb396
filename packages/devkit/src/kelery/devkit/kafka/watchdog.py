"""Kill a broker's process group when the Python process that started it dies.

Linux would offer ``prctl(PR_SET_PDEATHSIG)``, but only from C in the child. Instead
the launcher starts this tiny helper with a pipe on its stdin and keeps the write end
open: whenever the launcher goes away, even by SIGKILL, the kernel closes that end, the
helper reads EOF and takes the JVM's process group down. No stray JVM survives a
crashed test session.

Run as ``python -m kelery.devkit.kafka.watchdog <pgid>``; only the standard library is
imported so it costs a few milliseconds.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

__all__ = ["kill_group", "main", "start_watchdog"]


def group_alive(pgid: int) -> bool:
    """Tell whether any process is left in process group `pgid`."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(pgid: int, grace_s: float = 15.0) -> None:
    """SIGTERM the group, give it `grace_s` seconds to shut down, then SIGKILL what is left."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return


def start_watchdog(pgid: int) -> subprocess.Popen[bytes]:
    """Start the helper for process group `pgid`; keep the returned process's stdin open.

    Close its stdin (or die) to have the group killed; ``kill()`` it instead to let
    the group live on (a detached broker).
    """
    return subprocess.Popen(
        [sys.executable, "-m", "kelery.devkit.kafka.watchdog", str(pgid)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Wait for EOF on stdin (the launcher died or is done), then kill the group."""
    args = sys.argv[1:] if argv is None else argv
    pgid = int(args[0])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the launcher.
    stdin = sys.stdin.fileno()
    while group_alive(pgid):
        ready, _, _ = select.select([stdin], [], [], 1.0)
        if ready and not os.read(stdin, 4096):
            kill_group(pgid)
            return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
