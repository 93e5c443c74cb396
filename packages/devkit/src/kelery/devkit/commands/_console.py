"""Terminal output for commands: results on stdout, progress as a spinner or plain lines.

A rich spinner on a terminal; CI logs get one line per phase on stderr instead of
spinner control codes, and stdout keeps only results, so scripts can parse it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["out", "progress"]


def out(text: str = "") -> None:
    """Write a result line to stdout and flush, so pipes see it at once."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


@contextmanager
def progress(first: str) -> Iterator[Callable[[str], None]]:
    """Show `first`, then yield a function that replaces the message with a new phase."""
    if not sys.stdout.isatty():

        def say(phrase: str) -> None:
            sys.stderr.write(f"{phrase}...\n")
            sys.stderr.flush()

        say(first)
        yield say
        return
    from rich.console import Console  # noqa: PLC0415 - only for interactive use

    with Console().status(first) as status:
        yield lambda phrase: status.update(f"{phrase}...")
