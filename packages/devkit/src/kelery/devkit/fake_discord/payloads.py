"""Discord API v10 JSON shapes for the fake's objects (users, channels, guild, messages).

Kept apart from the rules in :mod:`state` so the wire format is in one place;
fields follow Discord's documented objects, with the optional ones nextcord reads
filled in so its parsers never meet a missing key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kelery.devkit.fake_discord.state import Channel, FakeDiscordState, Guild, Message, User

GUILD_TEXT = 0
ALL_PERMISSIONS = str((1 << 41) - 1)


def iso(moment: datetime) -> str:
    """Discord's ISO-8601 timestamp with microseconds and offset."""
    return moment.isoformat(timespec="microseconds")


def user_json(user: User) -> dict[str, Any]:
    """A user object."""
    return {
        "id": str(user.id),
        "username": user.name,
        "global_name": None if user.bot else user.name,
        "discriminator": "0",
        "avatar": None,
        "bot": user.bot,
        "system": False,
        "public_flags": 0,
    }


def current_user_json(user: User) -> dict[str, Any]:
    """``GET /users/@me``: the user object with the account fields."""
    return {
        **user_json(user),
        "verified": True,
        "mfa_enabled": False,
        "flags": 0,
        "locale": "en-US",
    }


def member_json(user: User, joined: datetime) -> dict[str, Any]:
    """A guild member object (with its user)."""
    return {
        "user": user_json(user),
        "nick": None,
        "roles": [],
        "joined_at": iso(joined),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
    }


def channel_json(channel: Channel, guild: Guild) -> dict[str, Any]:
    """A guild text channel object."""
    return {
        "id": str(channel.id),
        "type": GUILD_TEXT,
        "guild_id": str(guild.id),
        "name": channel.name,
        "position": channel.position,
        "permission_overwrites": [],
        "topic": None,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "parent_id": None,
        "flags": 0,
    }


def guild_json(state: FakeDiscordState, me: User) -> dict[str, Any]:
    """The full guild object sent in GUILD_CREATE (channels and the bot's own member)."""
    guild = state.guild
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": str(guild.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [
            {
                "id": str(guild.id),
                "name": "@everyone",
                "color": 0,
                "hoist": False,
                "position": 0,
                "permissions": ALL_PERMISSIONS,
                "managed": False,
                "mentionable": False,
                "flags": 0,
            }
        ],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "joined_at": iso(guild.created),
        "large": False,
        "unavailable": False,
        "member_count": 2,
        "members": [member_json(me, guild.created)],
        "channels": [channel_json(channel, guild) for channel in state.channels],
        "threads": [],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
    }


def message_json(message: Message, *, with_guild: bool) -> dict[str, Any]:
    """A message object; gateway events carry ``guild_id`` and ``member``, REST answers not."""
    data: dict[str, Any] = {
        "id": str(message.id),
        "channel_id": str(message.channel_id),
        "author": user_json(message.author),
        "content": message.content,
        "timestamp": iso(message.timestamp),
        "edited_timestamp": None,
        "tts": bool(message.payload.get("tts", False)),
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": list(message.payload.get("embeds") or []),
        "pinned": False,
        "type": 0,
        "flags": int(message.payload.get("flags") or 0),
        "components": [],
    }
    if message.nonce is not None:
        data["nonce"] = message.nonce
    if with_guild:
        data["guild_id"] = str(message.guild_id)
        member = member_json(message.author, message.timestamp)
        del member["user"]
        data["member"] = member
    return data
