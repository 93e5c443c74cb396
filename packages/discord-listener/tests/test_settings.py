"""Listener settings: its own LISTENER_ names and the announcement rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from kelery.common.errors import SettingsError
from kelery.common.settings import load_settings
from kelery.discord_listener.settings import ListenerSettings


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DISCORD_TOKEN", "ANNOUNCEMENT_CHANNEL_ID", "DISCORD_CHANNELS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DISCORD_API_BASE", "http://127.0.0.1:9/api/v10")


def test_defaults_and_env_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTENER_OVERFLOW_LIMIT", "5")
    monkeypatch.setenv("DISCORD_CHANNELS", "1,2")
    settings = load_settings(ListenerSettings)
    assert settings.listener_overflow_limit == 5
    assert settings.discord.channels == [1, 2]
    assert settings.listener_announce is False


def test_announcement_needs_its_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTENER_ANNOUNCE", "true")
    with pytest.raises(SettingsError, match="ANNOUNCEMENT_CHANNEL_ID"):
        load_settings(ListenerSettings)
    monkeypatch.setenv("ANNOUNCEMENT_CHANNEL_ID", "123")
    assert load_settings(ListenerSettings).discord.announcement_channel_id == 123


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTENER_FLUSH_TIMEOUT", "-1")
    with pytest.raises(SettingsError, match="LISTENER_FLUSH_TIMEOUT"):
        load_settings(ListenerSettings)
