import asyncio
import os
import signal

import pytest

from kelery.common import runtime
from kelery.common.errors import KeleryError, SettingsError
from kelery.common.runtime import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    GracefulShutdown,
    run_main,
)


def test_run_main_maps_errors_to_exit_codes(capsys: object) -> None:
    def bad_settings() -> int:
        raise SettingsError("invalid settings:\n  KAFKA_X: nope")

    def failure() -> int:
        raise KeleryError("broker unreachable")

    assert run_main(bad_settings) == EXIT_USAGE
    assert run_main(failure) == EXIT_FAILURE
    assert run_main(lambda: 0) == 0


def test_run_main_masks_secrets_in_the_error_it_prints(capsys: object) -> None:
    from kelery.common.redaction import register_secret

    register_secret("tok-3e8f-secret")

    def failure() -> int:
        raise KeleryError("login refused for token tok-3e8f-secret")

    assert run_main(failure) == EXIT_FAILURE
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert "login refused" in err
    assert "tok-3e8f-secret" not in err


def test_first_sigterm_sets_the_flag_and_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with GracefulShutdown() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
        assert stop.signal_name == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_signal_delivered_twice_at_once_is_one_stop_and_a_later_one_exits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One Ctrl-C reaches the process twice when a wrapper (``uv run`` without a
    # terminal) forwards what the process group already got.
    exits: list[int] = []
    monkeypatch.setattr(runtime.os, "_exit", exits.append)
    clock = [100.0]
    monkeypatch.setattr(runtime.time, "monotonic", lambda: clock[0])
    with GracefulShutdown(signals=(signal.SIGUSR1,), repeat_after_s=1.0) as stop:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert stop.wait(5)
        clock[0] += 0.2  # uv forwards after 200 ms
        os.kill(os.getpid(), signal.SIGUSR1)
        assert exits == []
        assert stop.requested
        clock[0] += 5.0  # the flush hangs; the person presses Ctrl-C again
        os.kill(os.getpid(), signal.SIGUSR1)
        assert exits == [EXIT_INTERRUPTED]


async def test_on_a_loop_the_first_signal_requests_and_calls_then_the_second_exits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exits: list[int] = []
    exited = asyncio.Event()

    def fake_exit(code: int) -> None:
        exits.append(code)
        exited.set()

    monkeypatch.setattr(runtime.os, "_exit", fake_exit)
    shutdown = GracefulShutdown(signals=(signal.SIGUSR1,), repeat_after_s=0)
    with shutdown.stop_event() as stop:
        os.kill(os.getpid(), signal.SIGUSR1)
        await stop.wait()
        assert shutdown.requested
        assert shutdown.signal_name == "SIGUSR1"
        assert exits == []
        stop.clear()
        os.kill(os.getpid(), signal.SIGUSR1)
        await exited.wait()
        assert exits == [EXIT_INTERRUPTED]
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_a_secret_containing_another_is_masked_whole() -> None:
    from kelery.common.redaction import MASK, redact, register_secret

    register_secret("nest-abcd")
    register_secret("nest-abcd-and-more")
    assert redact("x nest-abcd-and-more y") == f"x {MASK} y"
