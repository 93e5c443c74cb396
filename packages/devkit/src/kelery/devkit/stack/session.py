"""One ``kelery-dev up`` run: bring the system up, then watch it, demo it, or talk to it.

:class:`StackSession` holds what a run owns (the supervisor of the processes,
the fake Discord if there is one, the stop flag) so each phase is a small method
instead of a function with many arguments.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kelery.common.runtime import GracefulShutdown
from kelery.devkit.commands import CommandError
from kelery.devkit.commands._console import out
from kelery.devkit.fake_discord.control import FakeDiscord
from kelery.devkit.stack.conversation import Post, PostWatcher, read_lines_into
from kelery.devkit.stack.supervisor import Supervisor

WORKER_READY_TEXT = " ready."
"""What a Celery worker logs once it consumes (``celery@host ready.``)."""
BOTS = 2
DEMO_LINES = ("!ping", "!echo hello from kelery-dev")


@dataclass
class StackSession:
    """A running system and the ways a person interacts with it."""

    supervisor: Supervisor
    fake: FakeDiscord | None
    stop: GracefulShutdown
    watcher: PostWatcher | None = field(init=False)

    def __post_init__(self) -> None:
        self.watcher = PostWatcher(self.fake) if self.fake is not None else None

    @property
    def rundir(self) -> Path:
        """Where every component's log is."""
        return self.supervisor.rundir

    def fail_if_exited(self) -> None:
        """A component that ended on its own is a failure of the whole run: say which, why."""
        for dead in self.supervisor.exited():
            raise CommandError(
                f"{dead.component.name} exited with status {dead.process.returncode}; "
                f"the end of {dead.log_path}:\n{dead.tail()}"
            )

    def wait_until_up(self, timeout: float, say: Callable[[str], None]) -> None:
        """Up means: the worker said it is ready and both bots logged in to the gateway."""
        deadline = time.monotonic() + timeout
        worker = next(r for r in self.supervisor.running if r.component.name == "worker")
        said = ""
        while not self.stop.requested:
            self.fail_if_exited()
            worker_ready = worker.log_contains(WORKER_READY_TEXT)
            bots = self.fake.gateway.count("identify") if self.fake is not None else BOTS
            if worker_ready and bots >= BOTS:
                return
            status = (
                f"waiting for the worker ({'ready' if worker_ready else 'starting'}) "
                f"and the bots ({min(bots, BOTS)}/{BOTS} connected)"
            )
            if status != said:  # a plain log gets a line per change, not per check
                say(status)
                said = status
            if time.monotonic() > deadline:
                raise CommandError(
                    f"the system did not come up within {timeout:g} s; logs in {self.rundir}"
                )
            self.stop.wait(0.5)

    def show_new_posts(self) -> list[Post]:
        """Print what the bots posted since the last call, and return it."""
        posts = self.watcher.new_posts() if self.watcher is not None else []
        for post in posts:
            out(f"#{post.channel} {post.author}: {post.content}")
        return posts

    def watch(self) -> int:
        """Show posts until Ctrl-C/SIGTERM; a component dying ends the run with an error."""
        while not self.stop.requested:
            self.fail_if_exited()
            self.show_new_posts()
            self.stop.wait(0.1)
        return 0

    def talk(self, channel: str) -> int:
        """Turn typed lines into messages in ``channel`` and show the answers."""
        if self.fake is None:
            return self.watch()
        read_lines_into(self.fake, channel, on_line=lambda text: out(f"#{channel} you: {text}"))
        return self.watch()

    def demo(self, channel: str, timeout: float) -> int:
        """Say each demo line; 0 only if each got an answer in ``channel`` in time."""
        if self.fake is None:
            raise CommandError("the demo talks through the fake Discord")
        for line in DEMO_LINES:
            out(f"#{channel} you: {line}")
            self.fake.inject_message(channel, line, author="you")
            deadline = time.monotonic() + timeout
            answered = False
            while not answered and not self.stop.requested and time.monotonic() < deadline:
                self.fail_if_exited()
                answered = any(post.channel == channel for post in self.show_new_posts())
                self.stop.wait(0.1)
            if not answered:
                sys.stderr.write(
                    f"kelery-dev: no answer to {line!r} in #{channel} within {timeout:g} s; "
                    f"logs in {self.rundir}\n"
                )
                return 1
        out("demo: every line was answered")
        return 0
