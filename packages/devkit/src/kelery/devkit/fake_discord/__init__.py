"""A fake Discord (REST API v10 + gateway) that real nextcord bots log in to.

Use :func:`running_fake_discord` (a background thread; any test) or :func:`serve`
(on the running loop), or the ``fake_discord`` pytest fixture; ``kelery-dev
discord`` runs it as a standalone process for the quickstart.
"""

from kelery.devkit.fake_discord.control import FakeDiscord
from kelery.devkit.fake_discord.mentions import Pings
from kelery.devkit.fake_discord.server import running_fake_discord, serve
from kelery.devkit.fake_discord.state import Channel, Message, PostAttempt, PostRecord, User

__all__ = [
    "Channel",
    "FakeDiscord",
    "Message",
    "Pings",
    "PostAttempt",
    "PostRecord",
    "User",
    "running_fake_discord",
    "serve",
]
