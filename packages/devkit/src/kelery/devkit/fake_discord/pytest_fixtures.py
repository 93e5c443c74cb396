"""pytest fixtures for the fake Discord (entry point ``kelery_discord`` in ``pytest11``).

Fixtures:
    fake_discord: function; a fresh :class:`~kelery.devkit.fake_discord.FakeDiscord`
        running on a background thread (usable from sync and async tests), with
        ``.api_base`` for ``DISCORD_API_BASE``, ``.inject_message``, ``.posts``,
        ``.fail_next``, ``.drop_gateway``.

Imports stay light at module level: the server loads when a test asks for it.

The workspace runs pytest with ``filterwarnings = error``. nextcord 2.6 (the newest
for Python 3.11) warns on import (``pkg_resources``, ``audioop``) and on every
gateway connect under aiohttp 3.14 (a float ``timeout`` to ``ws_connect``); those
exact warnings, which no Kelery code can fix, are ignored here so the real bots
can run in tests. Anything else still fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kelery.devkit.fake_discord.control import FakeDiscord


NEXTCORD_WARNINGS = (
    "ignore:pkg_resources is deprecated as an API:UserWarning",
    "ignore:'audioop' is deprecated and slated for removal:DeprecationWarning",
    "ignore:parameter 'timeout' of type 'float' is deprecated:DeprecationWarning",
)


def pytest_configure(config: pytest.Config) -> None:
    """Ignore the known, harmless warnings nextcord 2.6 raises (see the module docstring)."""
    for line in NEXTCORD_WARNINGS:
        config.addinivalue_line("filterwarnings", line)


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    """A fresh fake Discord for one test, stopped when the test ends."""
    from kelery.devkit.fake_discord.server import running_fake_discord  # noqa: PLC0415

    with running_fake_discord() as fake:
        yield fake
