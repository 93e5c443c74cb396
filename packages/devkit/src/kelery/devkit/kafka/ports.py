"""Free loopback ports, so test brokers never collide with each other or a dev broker."""

from __future__ import annotations

import socket
from contextlib import ExitStack

__all__ = ["free_ports", "port_is_open"]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Return `count` distinct ports the OS just handed out on `host`.

    All sockets stay bound until every port is picked, so the OS cannot hand the same
    port out twice. Another process may still grab one before the broker binds it; the
    launcher retries with new ports when that happens.
    """
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Tell whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
