"""kelery-dev's parser and the failures a person sees, without starting a broker."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from kelery.devkit.cli import build_parser, main
from kelery.devkit.commands import register_all


def test_help_lists_kafka(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    assert "kafka" in capsys.readouterr().out


def test_no_command_prints_usage_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: kelery-dev" in capsys.readouterr().err


def test_kafka_without_action_prints_its_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kafka"]) == 2
    assert "up" in capsys.readouterr().err


def test_status_without_broker_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kafka", "--state-dir", str(tmp_path), "status"]) == 1
    assert "not running" in capsys.readouterr().out


def test_down_without_broker_is_a_no_op(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kafka", "--state-dir", str(tmp_path), "down"]) == 0
    assert "nothing to stop" in capsys.readouterr().out


def test_missing_java_is_one_paragraph_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["kafka", "--state-dir", str(tmp_path), "up", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "kelery-dev: error: Cannot start a local Apache Kafka broker" in err
    assert "apt-get install openjdk-17-jre-headless maven" in err
    assert "KAFKA_BOOTSTRAP_SERVERS" in err
    assert "Traceback" not in err


def test_subcommands_are_discovered_from_the_commands_package() -> None:
    parser = argparse.ArgumentParser()
    subparsers: argparse._SubParsersAction[Any] = parser.add_subparsers()
    register_all(subparsers)
    assert "kafka" in subparsers.choices
    args = build_parser().parse_args(["kafka", "up", "--detach", "--port", "0"])
    assert args.detach is True
    assert args.port == 0
    assert callable(args.handler)
