import os
import signal

from kelery.common.errors import KeleryError, SettingsError
from kelery.common.runtime import EXIT_FAILURE, EXIT_USAGE, GracefulShutdown, run_main


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
