"""Kelery's pytest plugin: a real Kafka broker for the session and unique topics per test.

Loaded by every pytest run through the ``pytest11`` entry point, so it imports only
light modules at the top; the broker, confluent_kafka and testcontainers load when a
test first asks for the ``kafka`` fixture.

Fixtures:
    kafka_endpoint: session; a :class:`~kelery.devkit.kafka.connect.KafkaEndpoint`.
    kafka: session; the bootstrap servers string of that broker.
    kafka_admin: session; a confluent_kafka ``AdminClient`` for it.
    unique_topic: function; a topic name no other test uses (not created).
    topic_factory: function; creates uniquely named topics, deletes them afterwards.

Without a broker, tests using these fixtures fail (never skip) with a message saying
what to install or which variable to set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from kelery.common.errors import KeleryError
from kelery.devkit.kafka.errors import BrokerStartError, KafkaUnavailableError
from kelery.devkit.kafka.provider import ProviderKind, choose_provider
from kelery.devkit.topics import unique_topic_name

if TYPE_CHECKING:
    from kelery.devkit.kafka.connect import KafkaEndpoint

__all__ = ["TopicFactory"]

_LOG = logging.getLogger("kelery.devkit.pytest_plugin")
_ENDPOINT = pytest.StashKey["KafkaEndpoint"]()
_TOPIC_TIMEOUT_S = 30.0


class TopicFactory(Protocol):
    """Create a uniquely named topic and return its name."""

    def __call__(
        self, partitions: int = 1, *, hint: str = "", config: Mapping[str, str] | None = None
    ) -> str:
        """Create the topic with `partitions` and optional topic `config`."""
        ...


def pytest_report_header(config: pytest.Config) -> str:
    """Say up front which Kafka a session will use if a test needs one."""
    try:
        choice = choose_provider()
    except ValueError as exc:
        return f"kelery kafka: misconfigured: {exc}"
    where = f" {choice.bootstrap_servers}" if choice.bootstrap_servers else ""
    return f"kelery kafka: {choice.kind}{where} ({choice.reason}); started on first use"


def pytest_collection_finish(session: pytest.Session) -> None:
    """Fetch the broker's jars before any test runs, when a selected test needs a broker.

    The first Maven download can take minutes; done here it does not count against the
    first test's pytest-timeout. Failures are left for the fixture to report.
    """
    if not any("kafka_endpoint" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    try:
        if choose_provider().kind is not ProviderKind.LOCAL:
            return
        from kelery.devkit.kafka.jars import resolve_jars  # noqa: PLC0415 - keep plugin light

        resolve_jars(progress=lambda phrase: _announce(session.config, f"kelery kafka: {phrase}"))
    except (KafkaUnavailableError, ValueError) as exc:
        _LOG.debug("Jars not prefetched: %s", exc)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Repeat, after the results, which real broker and version the tests ran against."""
    endpoint = config.stash.get(_ENDPOINT, None)
    if endpoint is not None:
        terminalreporter.section("kelery kafka")
        terminalreporter.write_line(f"tests ran against {endpoint.describe()}")


@pytest.fixture(scope="session")
def kafka_endpoint(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KafkaEndpoint]:
    """A real broker for the whole session, started (and stopped) here if need be."""
    from kelery.devkit.kafka.connect import open_kafka  # noqa: PLC0415 - keep plugin light

    config = request.config
    with ExitStack() as stack:
        try:
            workdir = tmp_path_factory.mktemp("kafka")
            endpoint = stack.enter_context(open_kafka(workdir=workdir))
        except (KafkaUnavailableError, BrokerStartError, ValueError, KeleryError) as exc:
            pytest.fail(f"No Kafka broker for the integration tests. {exc}", pytrace=False)
        config.stash[_ENDPOINT] = endpoint
        _LOG.info("kelery kafka: %s", endpoint.describe())
        _announce(config, f"kelery kafka: {endpoint.describe()}")
        yield endpoint


@pytest.fixture(scope="session")
def kafka(kafka_endpoint: KafkaEndpoint) -> str:
    """Bootstrap servers (``host:port``) of a real Apache Kafka broker."""
    return kafka_endpoint.bootstrap_servers


@pytest.fixture(scope="session")
def kafka_admin(kafka: str) -> Any:
    """A confluent_kafka AdminClient connected to the session's broker.

    Built by kelery-common's ``client_config``, so an external test cluster's
    ``KAFKA_*`` security settings (SASL/SSL) apply here as everywhere else.
    """
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415 - keep plugin light

    from kelery.common.kafka_config import client_config  # noqa: PLC0415
    from kelery.common.settings import KafkaSettings, load_settings  # noqa: PLC0415

    return AdminClient(
        client_config(load_settings(KafkaSettings, bootstrap_servers=kafka), "admin")
    )


@pytest.fixture
def unique_topic(request: pytest.FixtureRequest) -> str:
    """A topic name only this test uses: ``t-<test name>-<8 hex>`` (auto-created on use)."""
    return unique_topic_name(request.node.name)


@pytest.fixture
def topic_factory(request: pytest.FixtureRequest, kafka_admin: Any) -> Iterator[TopicFactory]:
    """Create uniquely named topics on the broker; they are deleted when the test ends."""
    from kelery.common.topics import TopicSpec, ensure_topics  # noqa: PLC0415

    created: list[str] = []

    def create(
        partitions: int = 1, *, hint: str = "", config: Mapping[str, str] | None = None
    ) -> str:
        name = unique_topic_name(f"{request.node.name}-{hint}" if hint else request.node.name)
        spec = TopicSpec(name, partitions=partitions, config=dict(config or {}))
        ensure_topics(kafka_admin, [spec], timeout=_TOPIC_TIMEOUT_S)
        created.append(name)
        return name

    yield create
    if created:
        futures = kafka_admin.delete_topics(created, operation_timeout=_TOPIC_TIMEOUT_S)
        for name, future in futures.items():
            try:
                future.result(timeout=_TOPIC_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - cleanup must not fail the test
                _LOG.warning("Could not delete test topic %s: %s", name, exc)


def _announce(config: pytest.Config, line: str) -> None:
    """Print `line` to the terminal even while pytest captures output."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    write: Callable[[], None] = lambda: reporter.write_line(line)  # noqa: E731
    if capture is None:
        write()
        return
    with capture.global_and_fixture_disabled():
        reporter.ensure_newline()
        write()
