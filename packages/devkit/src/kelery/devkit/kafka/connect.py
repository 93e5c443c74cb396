"""Get a running Kafka from whichever provider :func:`choose_provider` picks.

One context manager for the pytest plugin, the CLI and benchmarks alike: it yields a
:class:`KafkaEndpoint` saying where the broker is, what it is and which version it runs,
and tears down whatever it started.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kelery.devkit.kafka.errors import KafkaUnavailableError
from kelery.devkit.kafka.jars import Progress
from kelery.devkit.kafka.local import LocalKafka
from kelery.devkit.kafka.provider import KafkaChoice, ProviderKind, choose_provider
from kelery.devkit.kafka.readiness import wait_for_metadata

__all__ = ["DEFAULT_CONTAINER_IMAGE", "KafkaEndpoint", "open_kafka"]

_LOG = logging.getLogger("kelery.devkit.kafka")
# Confluent Platform 7.9 ships Apache Kafka 3.9; testcontainers' KafkaContainer only
# knows how to boot Confluent's images. KELERY_KAFKA_IMAGE picks another tag.
DEFAULT_CONTAINER_IMAGE = "confluentinc/cp-kafka:7.9.0"
EXTERNAL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class KafkaEndpoint:
    """A broker that answers metadata requests, and what is known about it."""

    bootstrap_servers: str
    kind: ProviderKind
    version: str | None
    reason: str
    detail: str = ""

    def describe(self) -> str:
        """One line for logs and test headers: what, which version, where, why."""
        what = {
            ProviderKind.LOCAL: "local JVM broker (KRaft)",
            ProviderKind.CONTAINER: "testcontainers Kafka",
            ProviderKind.EXTERNAL: "external cluster",
        }[self.kind]
        version = self.version or "version unknown (not reported over the Kafka protocol)"
        text = f"Apache Kafka {version}, {what} at {self.bootstrap_servers} ({self.reason})"
        return f"{text}; {self.detail}" if self.detail else text


@contextmanager
def open_kafka(
    choice: KafkaChoice | None = None,
    *,
    env: Mapping[str, str] | None = None,
    workdir: Path | None = None,
    progress: Progress | None = None,
) -> Iterator[KafkaEndpoint]:
    """Yield a ready broker; stop it afterwards if this call started it.

    Raises:
        KafkaUnavailableError: No broker can be had (tool missing, cluster unreachable).
        BrokerStartError: The local broker failed to start; the message has its log tail.
    """
    env = os.environ if env is None else env
    choice = choice or choose_provider(env)
    _LOG.info("Kafka provider: %s (%s)", choice.kind, choice.reason)
    if choice.kind is ProviderKind.EXTERNAL:
        yield _external(choice)
    elif choice.kind is ProviderKind.CONTAINER:
        with _container(choice, env) as endpoint:
            yield endpoint
    else:
        with LocalKafka(workdir=workdir, env=env, progress=progress) as broker:
            yield KafkaEndpoint(
                bootstrap_servers=broker.bootstrap_servers,
                kind=choice.kind,
                version=broker.version,
                reason=choice.reason,
                detail=(
                    f"started in {broker.startup_seconds or 0:.1f} s, pid {broker.pid}, "
                    f"log {broker.log_path}"
                ),
            )


def _external(choice: KafkaChoice) -> KafkaEndpoint:
    from kelery.common.kafka_config import client_config  # noqa: PLC0415
    from kelery.common.settings import KafkaSettings, load_settings  # noqa: PLC0415

    servers = choice.bootstrap_servers or ""
    # An existing cluster may need KAFKA_* security settings (SASL/SSL) to answer at all.
    admin = client_config(load_settings(KafkaSettings, bootstrap_servers=servers), "admin")
    try:
        wait_for_metadata(servers, timeout_s=EXTERNAL_TIMEOUT_S, client=admin)
    except TimeoutError as exc:
        msg = (
            f"Kafka at {servers} ({choice.reason}) did not answer a metadata request within "
            f"{EXTERNAL_TIMEOUT_S:.0f} s. Start that cluster, fix the variable, or unset "
            "KELERY_TEST_KAFKA and KAFKA_BOOTSTRAP_SERVERS to let Kelery start its own broker."
        )
        raise KafkaUnavailableError(msg) from exc
    return KafkaEndpoint(servers, ProviderKind.EXTERNAL, None, choice.reason)


@contextmanager
def _container(choice: KafkaChoice, env: Mapping[str, str]) -> Iterator[KafkaEndpoint]:
    from testcontainers.community.kafka import KafkaContainer  # noqa: PLC0415 - needs Docker

    image = env.get("KELERY_KAFKA_IMAGE", DEFAULT_CONTAINER_IMAGE)
    with KafkaContainer(image).with_kraft() as container:
        servers = str(container.get_bootstrap_server())
        wait_for_metadata(servers, timeout_s=EXTERNAL_TIMEOUT_S)
        tag = image.rpartition(":")[2]
        yield KafkaEndpoint(
            servers, ProviderKind.CONTAINER, None, choice.reason, f"image {image} (tag {tag})"
        )
