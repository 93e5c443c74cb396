import pytest

from kelery.common.errors import SettingsError
from kelery.common.settings import load_settings
from kelery.discord_speaker.settings import SpeakerSettings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type] # no stray .env
    for name in ("DISCORD_TOKEN", "DISCORD_API_BASE", "ANNOUNCEMENT_CHANNEL_ID", "SPEAK_TOPIC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DISCORD_API_BASE", "http://127.0.0.1:1/api/v10")


def test_defaults_suppress_mentions_and_use_the_shared_topic() -> None:
    settings = load_settings(SpeakerSettings)
    assert settings.allowed_mentions == []
    assert settings.speak_topic == "kelery.speak"
    assert settings.group_id == "kelery-discord-speaker"
    assert settings.commit_delay_seconds == 0


def test_seed_names_and_speaker_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANNOUNCEMENT_CHANNEL_ID", "1234")
    monkeypatch.setenv("SPEAK_TOPIC", "my.speak")
    monkeypatch.setenv("SPEAKER_GROUP_ID", "g1")
    monkeypatch.setenv("SPEAKER_ALLOWED_MENTIONS", "users, roles")
    settings = load_settings(SpeakerSettings)
    assert settings.discord.announcement_channel_id == 1234
    assert settings.speak_topic == "my.speak"
    assert settings.group_id == "g1"
    assert settings.allowed_mentions == ["users", "roles"]


def test_unknown_mention_kind_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEAKER_ALLOWED_MENTIONS", "users,admins")
    with pytest.raises(SettingsError, match="SPEAKER_ALLOWED_MENTIONS"):
        load_settings(SpeakerSettings)


def test_real_discord_without_token_fails_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCORD_API_BASE")
    with pytest.raises(SettingsError, match="DISCORD_TOKEN"):
        load_settings(SpeakerSettings)


def test_negative_commit_delay_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEAKER_COMMIT_DELAY_SECONDS", "-1")
    with pytest.raises(SettingsError, match="SPEAKER_COMMIT_DELAY_SECONDS"):
        load_settings(SpeakerSettings)
