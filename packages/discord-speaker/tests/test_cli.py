import pytest

from kelery.discord_speaker.cli import main


def test_help_lists_the_settings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "kelery-discord-speaker" in out
    assert "DISCORD_API_BASE" in out


def test_bad_settings_exit_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    monkeypatch.setenv("DISCORD_API_BASE", "http://127.0.0.1:1/api/v10")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "no-port")
    assert main([]) == 2
    assert "KAFKA_BOOTSTRAP_SERVERS" in capsys.readouterr().err


def test_options_override_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    from kelery.discord_speaker.cli import _load, build_parser

    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    monkeypatch.setenv("SPEAK_TOPIC", "from.env")
    monkeypatch.setenv("SPEAKER_GROUP_ID", "env-group")
    monkeypatch.delenv("DISCORD_API_BASE", raising=False)
    monkeypatch.setenv("DISCORD_TOKEN", "a-token-for-this-test")
    args = build_parser().parse_args(
        [
            "--topic",
            "from.cli",
            "--group-id",
            "cli-group",
            "--api-base",
            "http://127.0.0.1:9/api/v10",
        ]
    )
    settings = _load(args)
    assert settings.speak_topic == "from.cli"
    assert settings.group_id == "cli-group"
    assert settings.discord.api_base == "http://127.0.0.1:9/api/v10"
