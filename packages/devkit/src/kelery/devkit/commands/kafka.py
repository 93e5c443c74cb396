"""``kelery-dev kafka up|down|status``: the local Apache Kafka broker, for people.

``up`` runs the same launcher the tests use, in the foreground (Ctrl-C stops it) or
with ``--detach``; both record the broker in a state file so ``status`` and ``down``
work from any terminal.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

from kelery.devkit.commands import CommandError
from kelery.devkit.commands._console import out, progress
from kelery.devkit.kafka.state import (
    BrokerState,
    clear_state,
    default_state_dir,
    pid_is_broker,
    read_state,
    write_state,
)

__all__ = ["register"]

DEFAULT_PORT = 9092
STOP_TIMEOUT_S = 30.0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``kafka`` with its ``up``, ``down`` and ``status`` actions."""
    kafka = subparsers.add_parser(
        "kafka",
        help="a local Apache Kafka broker (KRaft, plain JVM, no Docker)",
        description="Start, stop or inspect a local single-node Apache Kafka broker.",
    )
    kafka.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="work folder for the broker's data, log and state (default: <cache>/kafka-dev)",
    )
    kafka.set_defaults(handler=lambda _args: _usage(kafka))
    actions = kafka.add_subparsers(title="actions", metavar="ACTION")

    up = actions.add_parser("up", help="start the broker and print its bootstrap address")
    up.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"client port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    up.add_argument("--controller-port", type=int, default=0, help="KRaft port (0: free one)")
    up.add_argument("--detach", action="store_true", help="start in the background and return")
    up.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for readiness")
    up.add_argument("--heap", default="512m", help="JVM max heap (default 512m)")
    up.set_defaults(handler=_up)

    down = actions.add_parser("down", help="stop the broker started by `kafka up`")
    down.set_defaults(handler=_down)

    status = actions.add_parser("status", help="say whether the broker runs, and where")
    status.add_argument("--json", action="store_true", help="print the state as JSON")
    status.set_defaults(handler=_status)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _state_dir(args: argparse.Namespace) -> Path:
    return Path(args.state_dir) if args.state_dir else default_state_dir()


def _up(args: argparse.Namespace) -> int:
    from kelery.devkit.kafka.local import LocalKafka  # noqa: PLC0415 - keep --help fast

    state_dir = _state_dir(args)
    running = read_state(state_dir)
    if running and pid_is_broker(running.pid):
        out(f"Kafka is already running at {running.bootstrap_servers} (pid {running.pid}).")
        return 0
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "broker.log").unlink(missing_ok=True)
    with progress("Preparing Apache Kafka") as say:
        broker = LocalKafka(
            workdir=state_dir,
            port=args.port or None,
            controller_port=args.controller_port or None,
            heap=args.heap,
            startup_timeout_s=args.timeout,
            progress=say,
            watchdog=not args.detach,
        ).start()
    state = BrokerState(
        pid=broker.pid or 0,
        bootstrap_servers=broker.bootstrap_servers,
        port=broker.port,
        controller_port=broker.controller_port,
        version=broker.version or "unknown",
        workdir=str(state_dir),
        log_path=str(broker.log_path),
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        detached=args.detach,
    )
    if args.detach:
        broker.detach()
        write_state(state_dir, state)
        _announce(state, broker.startup_seconds)
        out("Stop it with: kelery-dev kafka down")
        return 0
    write_state(state_dir, state)
    _announce(state, broker.startup_seconds)
    out("Press Ctrl-C to stop.")
    return _serve(broker, state_dir, state.pid)


def _announce(state: BrokerState, seconds: float | None) -> None:
    out(
        f"Apache Kafka {state.version} ready in {seconds or 0:.1f} s at "
        f"{state.bootstrap_servers} (pid {state.pid}, log {state.log_path})"
    )
    out(f"export KAFKA_BOOTSTRAP_SERVERS={state.bootstrap_servers}")


def _serve(broker: Any, state_dir: Path, pid: int) -> int:
    """Wait in the foreground until Ctrl-C, SIGTERM, `kafka down`, or the broker dies."""

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        while broker.is_running():
            time.sleep(0.5)
    except KeyboardInterrupt:
        out("\nStopping Kafka...")
        return 0
    else:
        # `kafka down` removes our state before it stops the broker; a crash does not.
        recorded = read_state(state_dir)
        stopped_by_down = recorded is None or recorded.pid != pid
    finally:
        signal.signal(signal.SIGTERM, previous)
        broker.stop()
        recorded = read_state(state_dir)
        if recorded and recorded.pid == pid:
            clear_state(state_dir)
    if stopped_by_down:
        out("Kafka was stopped (kelery-dev kafka down).")
        return 0
    msg = f"The broker exited unexpectedly; see {broker.log_path}"
    raise CommandError(msg)


def _down(args: argparse.Namespace) -> int:
    from kelery.devkit.kafka.watchdog import kill_group  # noqa: PLC0415

    state_dir = _state_dir(args)
    state = read_state(state_dir)
    if state is None:
        out("No Kafka started by kelery-dev is recorded; nothing to stop.")
        return 0
    clear_state(state_dir)  # First, so a foreground `up` knows the stop was asked for.
    if not pid_is_broker(state.pid):
        out(f"Kafka (pid {state.pid}) was not running any more; state cleared.")
        return 0
    kill_group(state.pid, grace_s=STOP_TIMEOUT_S)
    deadline = time.monotonic() + 10.0
    while pid_is_broker(state.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_is_broker(state.pid):
        msg = f"Kafka (pid {state.pid}) did not stop; kill it by hand."
        raise CommandError(msg)
    out(f"Stopped Kafka at {state.bootstrap_servers} (pid {state.pid}).")
    return 0


def _status(args: argparse.Namespace) -> int:
    state = read_state(_state_dir(args))
    alive = state is not None and pid_is_broker(state.pid)
    answers = False
    if state is not None and alive:
        from kelery.devkit.kafka.readiness import wait_for_metadata  # noqa: PLC0415

        try:
            wait_for_metadata(state.bootstrap_servers, timeout_s=5.0)
            answers = True
        except TimeoutError:
            answers = False
    if args.json:
        payload = {"running": alive, "answers": answers, "state": asdict(state) if state else None}
        out(json.dumps(payload, indent=2))
    elif state is None:
        out("Kafka: not running (nothing recorded).")
    elif not alive:
        out(f"Kafka: not running (pid {state.pid} is gone; log {state.log_path}).")
    else:
        health = "answers metadata requests" if answers else "NOT answering metadata requests"
        out(
            f"Kafka: running, Apache Kafka {state.version} at {state.bootstrap_servers} "
            f"(pid {state.pid}, since {state.started_at}, {health}; log {state.log_path})"
        )
    return 0 if alive and answers else 1
