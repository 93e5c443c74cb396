"""What every Kelery command-line process does the same way: exit codes and shutdown.

- :func:`run_main` runs a CLI's body and turns the errors a person can fix
  (bad settings, an unreachable cluster) into one clear line on stderr and a
  non-zero exit, instead of a traceback.
- :class:`GracefulShutdown` turns the first SIGINT/SIGTERM into a flag the main
  loop checks (so in-flight work is flushed and offsets committed); a second
  signal exits at once, for when flushing hangs. A second one within
  ``REPEAT_AFTER_S`` of the first counts as the same stop: one Ctrl-C can arrive
  twice (``uv run`` without a terminal forwards the SIGINT that the process
  group already received: ``timeout 60 uv run kelery-dev up`` stopped without
  cleanup until this). An asyncio program gets the
  same handling on its loop with :meth:`GracefulShutdown.stop_event` (or
  :meth:`~GracefulShutdown.install_on_loop`), so the handler runs in the loop
  and may set an ``asyncio.Event``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType

from kelery.common.errors import KeleryError, SettingsError
from kelery.common.redaction import redact

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
REPEAT_AFTER_S = 1.0


def run_main(body: Callable[[], int]) -> int:
    """Run ``body`` and map Kelery's errors to exit codes: settings 2, others 1."""
    try:
        return body()
    except SettingsError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)  # noqa: T201 - the CLI's own voice
        return EXIT_USAGE
    except KeleryError as exc:
        # Not through logging, so mask here: errors may quote upstream text with a secret.
        print(f"error: {redact(str(exc))}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


class GracefulShutdown:
    """A context manager: SIGINT/SIGTERM set :attr:`event`; a second one exits now.

    Use ``with GracefulShutdown() as stop: while not stop.requested: ...``.
    Handlers are restored on exit. Only the main thread may install handlers;
    elsewhere this is a plain flag that :meth:`request` sets.
    """

    def __init__(
        self,
        signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
        repeat_after_s: float = REPEAT_AFTER_S,
    ):
        self.event = threading.Event()
        self.signal_name: str | None = None
        self._signals = signals
        self._repeat_after_s = repeat_after_s
        self._requested_at = 0.0
        self._previous: dict[signal.Signals, object] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def requested(self) -> bool:
        """True once a stop was asked for."""
        return self.event.is_set()

    def request(self, reason: str = "requested") -> None:
        """Ask the loop to stop, as a signal would."""
        if not self.event.is_set():
            self._requested_at = time.monotonic()
        self.signal_name = self.signal_name or reason
        self.event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until a stop is asked for or ``timeout`` passes; True if asked."""
        return self.event.wait(timeout)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.event.is_set():
            if time.monotonic() - self._requested_at < self._repeat_after_s:
                log.debug("%s again at once: the same stop, delivered twice", name)
                return
            log.warning("second %s: exiting without cleanup", name)
            os._exit(EXIT_INTERRUPTED)
        log.info("%s received: finishing in-flight work (again to force)", name)
        self.request(name)

    def install_on_loop(
        self, loop: asyncio.AbstractEventLoop, then: Callable[[], None] | None = None
    ) -> None:
        """Handle the signals on ``loop`` (``add_signal_handler``), with the same semantics.

        The first signal sets the flag, then calls ``then`` (e.g. an
        ``asyncio.Event``'s ``set``) in the loop; a second one exits at once.
        A signal handler installed with ``signal.signal`` would run between two
        bytecodes of whatever the loop is doing, where touching asyncio objects
        is not safe. Undo with :meth:`remove_from_loop`.
        """

        def on_signal(sig: signal.Signals) -> None:
            self._handle(sig, None)
            if then is not None:
                then()

        for sig in self._signals:
            loop.add_signal_handler(sig, on_signal, sig)
        self._loop = loop

    @contextmanager
    def stop_event(self) -> Iterator[asyncio.Event]:
        """Within a running loop: an ``asyncio.Event`` the first signal sets.

        ``with shutdown.stop_event() as stop: await serve(stop)`` installs the
        handling on the running loop (:meth:`install_on_loop`) and removes it on
        the way out, whatever happens in between.
        """
        stop = asyncio.Event()
        self.install_on_loop(asyncio.get_running_loop(), then=stop.set)
        try:
            yield stop
        finally:
            self.remove_from_loop()

    def remove_from_loop(self) -> None:
        """Remove what :meth:`install_on_loop` installed (the default handlers come back)."""
        if self._loop is None:
            return
        for sig in self._signals:
            self._loop.remove_signal_handler(sig)
        self._loop = None

    def __enter__(self) -> GracefulShutdown:
        if threading.current_thread() is threading.main_thread():
            for sig in self._signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous.clear()
