"""Which Discord messages the listener forwards, and the ChatMessage each becomes.

Kept free of nextcord types (duck-typed through small protocols) so the rules
are unit-tested with plain objects: ignore ourselves and every other bot or
webhook, honour the channel allowlist, skip messages without text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from kelery.common.schemas import ChatMessage

SOURCE = "discord"


class _HasId(Protocol):
    id: int


class _Author(Protocol):
    id: int
    bot: bool
    name: str


class DiscordMessage(Protocol):
    """The parts of ``nextcord.Message`` the listener reads."""

    id: int
    content: str
    created_at: datetime
    author: _Author
    channel: _HasId
    guild: _HasId | None
    webhook_id: int | None


def skip_reason(message: DiscordMessage, *, me: int | None, allowed: list[int]) -> str | None:
    """Why ``message`` is not forwarded, or None when it is."""
    if me is not None and message.author.id == me:
        return "own message"
    if message.author.bot or message.webhook_id is not None:
        return "from a bot"
    if allowed and message.channel.id not in allowed:
        return "channel not in DISCORD_CHANNELS"
    if not message.content.strip():
        return "no text"
    return None


def to_chat_message(message: DiscordMessage) -> ChatMessage:
    """The ChatMessage for a Discord message (ids as strings, Discord's own timestamp)."""
    guild = message.guild
    return ChatMessage(
        content=message.content,
        timestamp=message.created_at,
        source=SOURCE,
        author_id=str(message.author.id),
        author_name=message.author.name,
        channel_id=str(message.channel.id),
        guild_id=None if guild is None else str(guild.id),
        message_id=str(message.id),
    )
