"""Start and stop a real Apache Kafka broker (single-node KRaft) as a plain JVM process.

No Docker is needed: the official jars run with ``java -cp 'libs/*' kafka.Kafka``. The
broker gets fresh storage and free loopback ports each time, is ready only once it
answers a metadata request, and is stopped with SIGTERM (SIGKILL after a grace period).
It runs in its own process group, watched by :mod:`kelery.devkit.kafka.watchdog`, so no
JVM outlives the Python process that started it, even one killed with SIGKILL.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from kelery.devkit.kafka.config import (
    LOG4J2_PROPERTIES,
    new_cluster_id,
    render_properties,
    server_properties,
)
from kelery.devkit.kafka.errors import BrokerStartError, KafkaUnavailableError, missing_tool_message
from kelery.devkit.kafka.jars import KafkaJars, Progress, resolve_jars
from kelery.devkit.kafka.ports import free_ports
from kelery.devkit.kafka.readiness import BrokerExitedError, log_tail, wait_for_metadata
from kelery.devkit.kafka.watchdog import start_watchdog

__all__ = ["LocalKafka", "broker_version_from_log"]

_LOG = logging.getLogger("kelery.devkit.kafka")
_VERSION_LINE = re.compile(r"Kafka version: (\S+)")
_BIND_FAILURE = ("Address already in use", "BindException")
_PORT_ATTEMPTS = 3


def broker_version_from_log(text: str) -> str | None:
    """Return the version the broker announced (``Kafka version: 4.1.1``) in its log."""
    match = _VERSION_LINE.search(text)
    return match[1] if match else None


class LocalKafka:
    """One local broker; use as a context manager or call :meth:`start` / :meth:`stop`.

    Args:
        workdir: Where properties, ``broker.log`` and ``data/`` go. When omitted a temp
            folder is made and removed again on a clean stop; a given folder is kept.
        port: Client port (PLAINTEXT); free one when omitted.
        controller_port: KRaft controller port; free one when omitted.
        env: Environment to read KAFKA_HOME / KELERY_CACHE_DIR from (default os.environ).
        heap: JVM max heap.
        startup_timeout_s: How long to wait for the broker to answer metadata requests.
        overrides: Extra or replacement server.properties entries.
        progress: Called with a short phrase at each phase (for CLI spinners).
        watchdog: Kill the broker if this Python process dies; off for ``--detach``.
    """

    def __init__(
        self,
        *,
        workdir: Path | None = None,
        port: int | None = None,
        controller_port: int | None = None,
        host: str = "127.0.0.1",
        env: Mapping[str, str] | None = None,
        heap: str = "512m",
        startup_timeout_s: float = 90.0,
        overrides: Mapping[str, str] | None = None,
        progress: Progress | None = None,
        watchdog: bool = True,
    ) -> None:
        self.host = host
        self._fixed_ports = (port, controller_port)
        self.port = port or 0
        self.controller_port = controller_port or 0
        self._env = os.environ if env is None else env
        self._heap = heap
        self._startup_timeout_s = startup_timeout_s
        self._overrides = dict(overrides or {})
        self._progress = progress
        self._use_watchdog = watchdog
        self._owns_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="kelery-kafka-"))
        self.jars: KafkaJars | None = None
        self.version: str | None = None
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None

    # -- public surface ---------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for clients."""
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        """The broker's log (its stdout and stderr)."""
        return self.workdir / "broker.log"

    @property
    def pid(self) -> int | None:
        """The JVM's pid (also its process group id), or None when not started."""
        return self._process.pid if self._process else None

    def is_running(self) -> bool:
        """Tell whether the JVM is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Resolve jars, format fresh storage, launch the JVM, wait until it is ready.

        Raises:
            KafkaUnavailableError: Java or Maven missing, or the jars cannot be fetched.
            BrokerStartError: The broker died or timed out; the message has its log tail.
        """
        began = time.monotonic()
        java = shutil.which("java", path=self._env.get("PATH"))
        if java is None:
            raise KafkaUnavailableError(missing_tool_message("java"))
        self.jars = resolve_jars(self._env, progress=self._progress)
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            self._pick_ports()
            try:
                self._launch(java, self.jars)
                self._await_ready()
                break
            except BrokerStartError as exc:
                retry = attempt < _PORT_ATTEMPTS and self._fixed_ports == (None, None)
                if not (retry and any(s in str(exc) for s in _BIND_FAILURE)):
                    raise
                _LOG.warning("Port taken before the broker bound it; retrying on new ports")
        self.version = broker_version_from_log(log_tail(self.log_path, 100_000)) or (
            self.jars.version
        )
        self.startup_seconds = time.monotonic() - began
        _LOG.info(
            "Apache Kafka %s broker ready at %s in %.1f s (pid %s, jars from %s, log %s)",
            self.version,
            self.bootstrap_servers,
            self.startup_seconds,
            self.pid,
            self.jars.source,
            self.log_path,
        )
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM the broker's process group, wait `timeout_s`, SIGKILL if still there."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None:
            _terminate_group(process, timeout_s)
        self._close_watchdog()
        if self._owns_workdir and process is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def detach(self) -> int:
        """Let the broker outlive this process (for ``kelery-dev kafka up --detach``).

        Returns the JVM's pid; the caller records it so ``kafka down`` can stop it.
        """
        if self._process is None:
            msg = "broker is not running"
            raise RuntimeError(msg)
        atexit.unregister(self.stop)
        self._close_watchdog(kill=False)
        pid = self._process.pid
        # Forget the child without a "still running" ResourceWarning at exit.
        self._process.returncode = 0
        self._process = None
        return pid

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- steps ------------------------------------------------------------------------

    def _say(self, phrase: str) -> None:
        _LOG.debug(phrase)
        if self._progress:
            self._progress(phrase)

    def _pick_ports(self) -> None:
        fixed_port, fixed_controller = self._fixed_ports
        picked = free_ports(2, self.host)
        self.port = fixed_port or picked[0]
        self.controller_port = fixed_controller or picked[1]

    def _launch(self, java: str, jars: KafkaJars) -> None:
        """Write the config, format the storage fresh, start the JVM in its own session."""
        data = self.workdir / "data"
        shutil.rmtree(data, ignore_errors=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        props = server_properties(
            port=self.port,
            controller_port=self.controller_port,
            log_dir=data,
            host=self.host,
            overrides=self._overrides,
        )
        properties = self.workdir / "server.properties"
        properties.write_text(render_properties(props), encoding="utf-8")
        log4j = self.workdir / "log4j2.properties"
        log4j.write_text(LOG4J2_PROPERTIES, encoding="utf-8")
        jvm = [java, f"-Dlog4j2.configurationFile={log4j}", "-Djava.awt.headless=true"]
        jvm += ["-cp", jars.classpath]

        self._say("Formatting fresh KRaft storage")
        cluster_id = new_cluster_id()
        fmt = [*jvm[:1], "-Xmx256m", *jvm[1:]]
        fmt += ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(properties)]
        done = subprocess.run(
            fmt, capture_output=True, text=True, timeout=120, check=False, cwd=self.workdir
        )
        if done.returncode != 0:
            msg = (
                f"Formatting Kafka storage failed (exit {done.returncode}): {' '.join(fmt)}\n"
                f"{done.stdout}{done.stderr}"
            )
            raise BrokerStartError(msg)

        self._say(f"Starting Apache Kafka {jars.version} on {self.bootstrap_servers}")
        run = [*jvm[:1], "-Xms128m", f"-Xmx{self._heap}", "-XX:+ExitOnOutOfMemoryError"]
        run += [*jvm[1:], "kafka.Kafka", str(properties)]
        with self.log_path.open("ab") as log:
            # A new session puts the JVM in its own process group: Ctrl-C in a terminal
            # reaches only Python, which then stops the broker in order.
            self._process = subprocess.Popen(
                run,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
            )
        atexit.register(self.stop)
        if self._use_watchdog:
            self._watchdog = start_watchdog(self._process.pid)

    def _await_ready(self) -> None:
        self._say("Waiting for the broker to answer metadata requests")
        try:
            wait_for_metadata(
                self.bootstrap_servers, timeout_s=self._startup_timeout_s, alive=self.is_running
            )
        except (BrokerExitedError, TimeoutError) as exc:
            tail = log_tail(self.log_path)
            self._stop_after_failure()
            msg = (
                f"Apache Kafka did not start: {exc}. Broker log {self.log_path} "
                f"(last lines):\n{tail}"
            )
            raise BrokerStartError(msg) from exc

    def _stop_after_failure(self) -> None:
        """Kill the failed JVM but keep the work folder, so its log can be read."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None:
            _terminate_group(process, 10.0)
        self._close_watchdog()

    def _close_watchdog(self, *, kill: bool = True) -> None:
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is None:
            return
        if not kill:
            watchdog.kill()  # Its EOF would take the broker down with it.
        if watchdog.stdin:
            watchdog.stdin.close()
        try:
            watchdog.wait(timeout=20)
        except subprocess.TimeoutExpired:
            watchdog.kill()
            watchdog.wait()


def _terminate_group(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            _LOG.warning("Kafka broker pid %s ignored %s", process.pid, sig.name)
    if process.returncode is None:
        process.wait()
