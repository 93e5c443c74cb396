"""Talk to the running system through the fake Discord, from the terminal.

:class:`PostWatcher` notices what the bots post in any channel of the fake
Discord so ``kelery-dev up`` can show it; :func:`read_lines_into` turns each
line a person types into a user's message in a channel, exactly as if they had
written it in Discord (the listener receives it over the gateway).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from kelery.devkit.fake_discord.control import FakeDiscord


@dataclass(frozen=True)
class Post:
    """One message a bot posted, with the channel's name."""

    channel: str
    author: str
    content: str


class PostWatcher:
    """Returns the posts made since the last call, across every channel."""

    def __init__(self, fake: FakeDiscord) -> None:
        self._fake = fake
        self._seen: dict[int, int] = {channel.id: 0 for channel in fake.channels}

    def new_posts(self) -> list[Post]:
        """Posts not returned before, oldest first per channel."""
        found: list[Post] = []
        for channel in self._fake.channels:
            posts = self._fake.posts(channel.id)
            for record in posts[self._seen[channel.id] :]:
                found.append(Post(channel.name, record.message.author.name, record.content))
            self._seen[channel.id] = len(posts)
        return found


def read_lines_into(
    fake: FakeDiscord,
    channel: str,
    *,
    author: str = "you",
    stream: TextIO | None = None,
    on_line: Callable[[str], None] | None = None,
) -> threading.Thread:
    """Start a daemon thread that injects every non-empty line of ``stream`` into ``channel``."""
    source = stream or sys.stdin

    def pump() -> None:
        for line in source:
            text = line.rstrip("\n")
            if text.strip():
                fake.inject_message(channel, text, author=author)
                if on_line is not None:
                    on_line(text)

    thread = threading.Thread(target=pump, name="kelery-up-stdin", daemon=True)
    thread.start()
    return thread
