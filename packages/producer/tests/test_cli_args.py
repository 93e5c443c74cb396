"""Command-line parsing, exit statuses and the summary (no broker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kelery.common.errors import KeleryError, SettingsError
from kelery.common.runtime import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from kelery.common.settings import load_settings
from kelery.producer.cli import FOREVER_DEFAULT_RATE, execute, main, parse_args, summarise
from kelery.producer.run import ProduceResult
from kelery.producer.settings import SEED_DEFAULT_MESSAGE, ProducerSettings


def test_defaults() -> None:
    args = parse_args([])
    assert (args.messages, args.file, args.count, args.rate, args.forever) == (
        [],
        None,
        1,
        0.0,
        False,
    )


def test_forever_defaults_to_the_seeds_pace_unless_rate_given() -> None:
    assert parse_args(["--forever"]).rate == FOREVER_DEFAULT_RATE
    assert parse_args(["--forever", "--rate", "0"]).rate == 0.0


def test_dash_means_stdin() -> None:
    assert parse_args(["-"]).file == "-"


def test_headers_are_name_value_pairs() -> None:
    args = parse_args(["-H", "a=1", "--header", "b=x=y", "-H", "c="])
    assert args.header == [("a", "1"), ("b", "x=y"), ("c", "")]


@pytest.mark.parametrize(
    "argv",
    [
        ["-H", "novalue"],
        ["-H", "=v"],
        ["--count", "0"],
        ["--count", "2", "--forever"],
        ["--rate", "-1"],
        ["--rate", "nan"],
        ["--file", "x.txt", "message"],
        ["-", "other"],
        ["-q", "-v"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == EXIT_USAGE
    assert "error:" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["--help"])
    assert exited.value.code == 0
    assert "--forever" in capsys.readouterr().out


def test_bad_setting_fails_at_start_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PRODUCER_FLUSH_TIMEOUT", "soon")
    assert main(["hello"]) == EXIT_USAGE
    assert "PRODUCER_FLUSH_TIMEOUT" in capsys.readouterr().err


def test_settings_defaults_and_env_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODUCER_DEFAULT_MESSAGE", "hi")
    monkeypatch.setenv("COMMANDS_TOPIC", "cmds")
    settings = load_settings(ProducerSettings)
    assert (settings.default_message, settings.commands_topic) == ("hi", "cmds")
    monkeypatch.setenv("PRODUCER_CONNECT_TIMEOUT", "0")
    with pytest.raises(SettingsError, match="PRODUCER_CONNECT_TIMEOUT"):
        load_settings(ProducerSettings)
    assert ProducerSettings.model_fields["default_message"].default == SEED_DEFAULT_MESSAGE


def result(**counts: int | bool) -> ProduceResult:
    return ProduceResult(**counts)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("counts", "forever", "status"),
    [
        ({"produced": 3, "delivered": 3}, False, EXIT_OK),
        ({"produced": 3, "delivered": 2, "failed": 1}, False, EXIT_FAILURE),
        ({"produced": 2, "delivered": 2, "rejected": 1}, False, EXIT_FAILURE),
        ({"produced": 2, "delivered": 2, "complete": False}, False, EXIT_INTERRUPTED),
        ({"produced": 2, "delivered": 2, "complete": False}, True, EXIT_OK),
        ({"produced": 2, "delivered": 1, "failed": 1, "complete": False}, True, EXIT_FAILURE),
    ],
)
def test_exit_status(counts: dict[str, int | bool], forever: bool, status: int) -> None:
    assert summarise(result(**counts), "t", forever=forever, quiet=True) == status


def test_failures_are_reported_even_when_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    summarise(result(produced=10, delivered=7, failed=3), "t", forever=False, quiet=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "3 of 10 messages failed" in captured.err


def test_summary_line(capsys: pytest.CaptureFixture[str]) -> None:
    summarise(result(produced=4, delivered=4), "topic-a", forever=False, quiet=False)
    assert "delivered 4 of 4 messages to topic-a" in capsys.readouterr().out


def test_unreadable_file_is_a_clear_error_before_connecting(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    with pytest.raises(KeleryError, match=r"cannot read .*missing.txt: No such file"):
        execute(parse_args(["--file", str(missing)]), ProducerSettings())
