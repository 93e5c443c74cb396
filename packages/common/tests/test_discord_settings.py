"""DiscordSettings: env names, the allowlist, and the token rule for real vs fake Discord."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from kelery.common.errors import SettingsError
from kelery.common.redaction import redact
from kelery.common.settings import (
    DISCORD_API_DEFAULT,
    FAKE_DISCORD_TOKEN,
    DiscordSettings,
    KeleryBaseSettings,
    load_settings,
)


class _BotSettings(KeleryBaseSettings):
    discord: DiscordSettings = Field(default_factory=DiscordSettings)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    names = ("DISCORD_TOKEN", "DISCORD_API_BASE", "DISCORD_CHANNELS", "ANNOUNCEMENT_CHANNEL_ID")
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env file


def test_reads_seed_names_and_allowlist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "abc.def.secret-token")
    monkeypatch.setenv("ANNOUNCEMENT_CHANNEL_ID", "1234567890123456789")
    monkeypatch.setenv("DISCORD_CHANNELS", "11, 22,33")
    settings = load_settings(DiscordSettings)
    assert settings.api_base == DISCORD_API_DEFAULT
    assert settings.announcement_channel_id == 1234567890123456789
    assert settings.channels == [11, 22, 33]
    assert settings.allows(22)
    assert not settings.allows(44)
    assert settings.bot_token() == "abc.def.secret-token"
    assert "secret-token" not in repr(settings)
    assert "abc.def.secret-token" not in redact("token is abc.def.secret-token")


def test_empty_allowlist_allows_every_channel() -> None:
    settings = load_settings(DiscordSettings, token="x" * 10)
    assert settings.channels == []
    assert settings.allows(987)


def test_real_discord_needs_a_token_and_names_it() -> None:
    with pytest.raises(SettingsError, match="DISCORD_TOKEN"):
        load_settings(DiscordSettings)


def test_nested_block_error_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_API_BASE", "https://discord.com/api/v10")
    with pytest.raises(SettingsError, match="DISCORD_TOKEN"):
        load_settings(_BotSettings)
    monkeypatch.setenv("DISCORD_API_BASE", "http://127.0.0.1:1/api/v10")
    monkeypatch.setenv("DISCORD_CHANNELS", "12,abc")
    with pytest.raises(SettingsError, match="DISCORD_CHANNELS"):
        load_settings(_BotSettings)


def test_fake_discord_runs_without_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_API_BASE", "http://127.0.0.1:8700/api/v10/")
    settings = load_settings(_BotSettings)
    assert settings.discord.api_base == "http://127.0.0.1:8700/api/v10"
    assert not settings.discord.uses_real_discord
    assert settings.discord.bot_token() == FAKE_DISCORD_TOKEN


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DISCORD_API_BASE", "ftp://example.com"),
        ("ANNOUNCEMENT_CHANNEL_ID", "-5"),
        ("DISCORD_CHANNELS", "0"),
    ],
)
def test_bad_values_fail_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "token-value")
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings(DiscordSettings)
