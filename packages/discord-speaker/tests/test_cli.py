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
