"""Which Kafka to use: an existing cluster, a testcontainers container, or a local JVM broker.

The order is DESIGN.md's: a configured cluster always wins, Docker is used when its
daemon answers, and otherwise the official jars run as a local process. The choice is
a pure function of the environment and a Docker probe, both injected, so it is
unit-tested without Docker or Kafka.
"""

from __future__ import annotations

import http.client
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlparse

__all__ = [
    "BOOTSTRAP_VARIABLES",
    "PROVIDER_VARIABLE",
    "KafkaChoice",
    "ProviderKind",
    "choose_provider",
    "docker_daemon_answers",
]

# Checked in this order; KELERY_TEST_KAFKA lets tests use a cluster the app does not.
BOOTSTRAP_VARIABLES = ("KELERY_TEST_KAFKA", "KAFKA_BOOTSTRAP_SERVERS")
# Forces a provider (local, container, external), e.g. the local broker on a Docker host.
PROVIDER_VARIABLE = "KELERY_KAFKA_PROVIDER"


class ProviderKind(StrEnum):
    """Where the broker comes from."""

    EXTERNAL = "external"
    CONTAINER = "container"
    LOCAL = "local"


@dataclass(frozen=True)
class KafkaChoice:
    """The decision, with the bootstrap servers when they are already known, and why."""

    kind: ProviderKind
    reason: str
    bootstrap_servers: str | None = None


def choose_provider(
    env: Mapping[str, str] | None = None,
    docker_probe: Callable[[], bool] | None = None,
) -> KafkaChoice:
    """Pick the Kafka to use; `docker_probe` is only called when no cluster is configured.

    Raises:
        ValueError: KELERY_KAFKA_PROVIDER names no provider, or forces `external`
            without a bootstrap variable.
    """
    env = os.environ if env is None else env
    probe = docker_daemon_answers if docker_probe is None else docker_probe
    forced = env.get(PROVIDER_VARIABLE, "").strip().lower()
    if forced and forced not in set(ProviderKind):
        msg = f"{PROVIDER_VARIABLE}={forced!r}: expected one of {', '.join(ProviderKind)}"
        raise ValueError(msg)

    for name in BOOTSTRAP_VARIABLES:
        servers = env.get(name, "").strip()
        if servers and forced in ("", ProviderKind.EXTERNAL):
            return KafkaChoice(ProviderKind.EXTERNAL, f"{name} is set", servers)
    if forced == ProviderKind.EXTERNAL:
        msg = f"{PROVIDER_VARIABLE}=external needs one of {', '.join(BOOTSTRAP_VARIABLES)}"
        raise ValueError(msg)
    if forced == ProviderKind.LOCAL:
        return KafkaChoice(ProviderKind.LOCAL, f"{PROVIDER_VARIABLE}=local")
    if forced == ProviderKind.CONTAINER:
        return KafkaChoice(ProviderKind.CONTAINER, f"{PROVIDER_VARIABLE}=container")
    if probe():
        return KafkaChoice(ProviderKind.CONTAINER, "a Docker daemon answers")
    return KafkaChoice(ProviderKind.LOCAL, "no Kafka configured and no Docker daemon")


def docker_daemon_answers(env: Mapping[str, str] | None = None, timeout_s: float = 1.0) -> bool:
    """Ping the Docker engine (``GET /_ping``) at DOCKER_HOST or the default socket.

    A raw request, not the docker SDK: the SDK takes seconds to give up and leaks a
    socket (a ResourceWarning, fatal under ``filterwarnings=error``) when no engine runs.
    """
    env = os.environ if env is None else env
    url = urlparse(env.get("DOCKER_HOST") or "unix:///var/run/docker.sock")
    try:
        if url.scheme == "unix":
            connection: http.client.HTTPConnection = _UnixHTTPConnection(url.path, timeout_s)
        elif url.scheme in ("tcp", "http"):
            connection = http.client.HTTPConnection(
                url.hostname or "localhost", url.port or 2375, timeout=timeout_s
            )
        else:
            return False  # ssh://, npipe:// ... let testcontainers users force it instead.
        try:
            connection.request("GET", "/_ping")
            response = connection.getresponse()
            return response.status == 200 and response.read().strip() == b"OK"
        finally:
            connection.close()
    except (OSError, http.client.HTTPException):
        return False


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over the Docker engine's unix socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock
