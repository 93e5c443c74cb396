"""Free-port picking and the bootstrap parser used by readiness checks."""

from __future__ import annotations

import socket

import pytest

from kelery.devkit.kafka.ports import free_ports, port_is_open
from kelery.devkit.kafka.readiness import parse_bootstrap


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(3)
    assert len(set(ports)) == 3
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_port_is_open_tells_listening_from_closed() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert port_is_open("127.0.0.1", port)
    assert not port_is_open("127.0.0.1", port)


@pytest.mark.parametrize(
    ("bootstrap", "expected"),
    [
        ("127.0.0.1:9092", [("127.0.0.1", 9092)]),
        ("a:1, b:2", [("a", 1), ("b", 2)]),
        ("PLAINTEXT://h:9093", [("h", 9093)]),
        ("[::1]:9092", [("::1", 9092)]),
    ],
)
def test_parse_bootstrap(bootstrap: str, expected: list[tuple[str, int]]) -> None:
    assert parse_bootstrap(bootstrap) == expected
