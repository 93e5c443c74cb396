"""Turn one SpeakMessage into the exact Discord posts that will carry it.

Everything that can be decided without talking to Discord is decided here, as
pure logic: which channel, how the text is cut, each part's nonce, and the
mention policy. A message that can never be posted (empty text, no channel)
raises :class:`UndeliverableError`, which the speaker dead-letters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kelery.common.errors import KeleryError
from kelery.common.schemas import DISCORD_MESSAGE_LIMIT, SpeakMessage
from kelery.discord_speaker.nonce import post_nonce
from kelery.discord_speaker.splitting import split_content

MentionKind = Literal["users", "roles", "everyone"]
_MAX_SNOWFLAKE = 2**64 - 1


class UndeliverableError(KeleryError):
    """This message can never be posted as it is; the reason goes to the DLQ header."""


@dataclass(frozen=True)
class PlannedPost:
    """One ``POST /channels/{channel_id}/messages`` call, ready to send."""

    channel_id: int
    content: str
    nonce: str
    allowed_mentions: tuple[MentionKind, ...] = field(default=())

    def payload(self) -> dict[str, Any]:
        """The JSON body: mentions limited to ``allowed_mentions`` (none by default).

        ``enforce_nonce`` makes Discord return the earlier message instead of
        posting again when this nonce was already used, which is what makes a
        retry after a crash safe.
        """
        return {
            "content": self.content,
            "nonce": self.nonce,
            "enforce_nonce": True,
            "allowed_mentions": {"parse": list(self.allowed_mentions)},
            "tts": False,
        }


def resolve_channel(message: SpeakMessage, default_channel: int | None) -> int:
    """The channel to post to: the message's own, else the announcement channel."""
    if message.channel_id is None:
        if default_channel is None:
            raise UndeliverableError(
                "message has no channel_id and ANNOUNCEMENT_CHANNEL_ID is not set"
            )
        return default_channel
    raw = message.channel_id.strip()
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= _MAX_SNOWFLAKE:
        raise UndeliverableError(f"channel_id {message.channel_id!r} is not a Discord channel id")
    return int(raw)


def plan_posts(
    message: SpeakMessage,
    *,
    default_channel: int | None,
    allowed_mentions: Sequence[MentionKind] = (),
    limit: int = DISCORD_MESSAGE_LIMIT,
) -> list[PlannedPost]:
    """The posts for ``message``, in order; raises UndeliverableError if there are none.

    Parts made only of white space are left out (Discord refuses them; they only
    ever hold the blank lines between two long parts).
    """
    if not message.content.strip():
        raise UndeliverableError("content is empty")
    channel = resolve_channel(message, default_channel)
    mentions = tuple(allowed_mentions)
    parts = [part for part in split_content(message.content, limit) if part.strip()]
    return [
        PlannedPost(channel, part, post_nonce(message.uuid, index), mentions)
        for index, part in enumerate(parts)
    ]
