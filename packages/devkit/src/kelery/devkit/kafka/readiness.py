"""Decide that a broker is ready: it answers a metadata request, not merely a TCP connect.

A KRaft broker opens its port only once it has caught up with the metadata log, but
a successful ``list_topics`` listing at least one broker is what clients actually need,
so that is the test.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kelery.devkit.kafka.ports import port_is_open

__all__ = ["BrokerExitedError", "log_tail", "parse_bootstrap", "wait_for_metadata"]

_LOG = logging.getLogger("kelery.devkit.kafka")


class BrokerExitedError(RuntimeError):
    """The broker process ended while we were waiting for it."""


def parse_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
    """Split ``host:port,host:port`` (optionally ``PLAINTEXT://``-prefixed) into pairs."""
    pairs = []
    for item in bootstrap.split(","):
        address = item.strip().rsplit("://", 1)[-1]
        if not address:
            continue
        host, _, port = address.rpartition(":")
        pairs.append((host.strip("[]") or "127.0.0.1", int(port)))
    return pairs


def wait_for_metadata(
    bootstrap: str,
    *,
    timeout_s: float,
    alive: Callable[[], bool] | None = None,
    poll_s: float = 0.25,
    client: Mapping[str, Any] | None = None,
) -> int:
    """Block until `bootstrap` answers a metadata request; return how many brokers it lists.

    `client` is the admin client's librdkafka config for a cluster that needs more
    than an address (SASL/SSL): build it with kelery-common's ``client_config``.

    Raises:
        BrokerExitedError: `alive` reported the broker process gone.
        TimeoutError: no answer within `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    pairs = parse_bootstrap(bootstrap)
    last_error = "no TCP listener yet"
    admin = None
    while True:
        if alive is not None and not alive():
            msg = "the broker process exited during startup"
            raise BrokerExitedError(msg)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            msg = (
                f"{bootstrap} did not answer a metadata request in {timeout_s:.0f} s: {last_error}"
            )
            raise TimeoutError(msg)
        # A TCP probe first keeps librdkafka from logging "connection refused" noise.
        if any(port_is_open(host, port) for host, port in pairs):
            if admin is None:
                admin = _admin(bootstrap, client)
            try:
                metadata = admin.list_topics(timeout=max(0.5, min(5.0, remaining)))
            except Exception as exc:  # noqa: BLE001 - any failure just means "not yet".
                last_error = str(exc)
            else:
                if metadata.brokers:
                    return len(metadata.brokers)
                last_error = "metadata listed no brokers"
        time.sleep(poll_s)


def _admin(bootstrap: str, client: Mapping[str, Any] | None) -> Any:
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415 - heavy, only when needed

    config: dict[str, Any] = dict(client) if client else {"bootstrap.servers": bootstrap}
    config.setdefault("socket.connection.setup.timeout.ms", 3000)
    # librdkafka's own log goes through Python logging, not straight to stderr.
    config.setdefault("logger", logging.getLogger("kelery.devkit.kafka.librdkafka"))
    return AdminClient(config)


def log_tail(path: Path, lines: int = 60) -> str:
    """Return the last `lines` lines of a log file, or a note saying it does not exist."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])
