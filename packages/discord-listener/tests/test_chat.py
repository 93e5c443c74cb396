"""Which messages are forwarded, and the ChatMessage each becomes (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from kelery.common.schemas import decode_chat_message
from kelery.discord_listener.chat import skip_reason, to_chat_message

ME = 999


def _message(**changes: Any) -> Any:
    fields: dict[str, Any] = {
        "id": 1576158924359467016,
        "content": "!remind 10m stretch",
        "created_at": datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        "author": SimpleNamespace(id=42, bot=False, name="alice"),
        "channel": SimpleNamespace(id=100),
        "guild": SimpleNamespace(id=7),
        "webhook_id": None,
    }
    fields.update(changes)
    return SimpleNamespace(**fields)


@pytest.mark.parametrize(
    ("changes", "allowed", "reason"),
    [
        ({}, [], None),
        ({}, [100, 200], None),
        ({}, [200], "channel not in DISCORD_CHANNELS"),
        ({"author": SimpleNamespace(id=ME, bot=True, name="me")}, [], "own message"),
        ({"author": SimpleNamespace(id=5, bot=True, name="other")}, [], "from a bot"),
        ({"webhook_id": 77}, [], "from a bot"),
        ({"content": "   "}, [], "no text"),
    ],
)
def test_skip_rules(changes: dict[str, Any], allowed: list[int], reason: str | None) -> None:
    assert skip_reason(_message(**changes), me=ME, allowed=allowed) == reason


def test_chat_message_fields_round_trip() -> None:
    chat = to_chat_message(_message())
    decoded = decode_chat_message(chat.to_json_bytes())
    assert decoded == chat
    assert (decoded.source, decoded.content) == ("discord", "!remind 10m stretch")
    assert (decoded.author_id, decoded.author_name) == ("42", "alice")
    assert (decoded.channel_id, decoded.guild_id) == ("100", "7")
    assert decoded.message_id == "1576158924359467016"
    assert decoded.timestamp == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def test_direct_message_has_no_guild() -> None:
    assert to_chat_message(_message(guild=None)).guild_id is None
