"""kombu's own integration test classes, run against our transport on the real broker.

The classes come from ``t/integration/common.py`` of kombu's sdist for the installed
kombu version, fetched by ``pip download`` into a cache outside the repository
(``~/.cache/kelery/kombu-sdist``) when this module is collected; kombu's code is
never copied into ours. If the sdist cannot be fetched, the tests fail saying why.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import kombu
import pytest

from kelery.tasks.transport import TRANSPORT_PATH, URL_PARSED_TRANSPORT_PATH

pytestmark = pytest.mark.integration

CACHE = Path.home() / ".cache" / "kelery" / "kombu-sdist"
VERSION = kombu.__version__


def _pip() -> list[str] | None:
    for candidate in ([sys.executable, "-m", "pip"], ["pip3"], ["pip"]):
        binary = shutil.which(candidate[0]) if len(candidate) == 1 else candidate[0]
        if binary is None:
            continue
        probe = subprocess.run(
            [*candidate, "--version"], capture_output=True, check=False, timeout=60
        )
        if probe.returncode == 0:
            return candidate
    return None


def _load_common() -> tuple[ModuleType | None, str]:
    target = CACHE / f"kombu-{VERSION}" / "t" / "integration" / "common.py"
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        pip = _pip()
        if pip is None:
            return None, "no pip found to download kombu's sdist"
        archive = CACHE / f"kombu-{VERSION}.tar.gz"
        if not archive.exists():
            result = subprocess.run(
                [
                    *pip,
                    "download",
                    "--no-binary",
                    ":all:",
                    "--no-deps",
                    f"kombu=={VERSION}",
                    "-d",
                    str(CACHE),
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=300,
            )
            if result.returncode != 0 or not archive.exists():
                return None, f"pip download of kombu=={VERSION} failed: {result.stderr[-500:]}"
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if "/t/integration/" in m.name]
            tar.extractall(CACHE, members=members, filter="data")
    spec = importlib.util.spec_from_file_location("kombu_integration_common", target)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, ""


common, why_not = _load_common()


def _connection(url: str, **kwargs: Any) -> kombu.Connection:
    run = uuid.uuid4().hex[:8]
    options = {
        "topic_prefix": f"kombu-it-{run}.",
        "group_id": f"kombu-it-{run}",
        "partitions": 1,
        "connect_timeout": 5.0,
    }
    return kombu.Connection(url, transport_options=options, **kwargs)


@pytest.fixture(scope="module", autouse=True)
def _first_round_trip(kafka: str) -> None:
    """One message through the transport in this process before kombu's tests run.

    kombu's tests give a consumer 1 s to receive its first message; that budget
    assumes a warm broker and client (RabbitMQ, Redis). The first consumer group
    of a test process on a fresh Kafka broker (librdkafka start-up, topic metadata,
    group join, offset lookup) can take longer than that on two busy cores, so it
    is paid here once, with a generous wait, instead of inside the first kombu test.
    """
    queue = kombu.Queue("warm-up", routing_key="warm-up")
    received: list[object] = []
    with _connection(f"kelery+kafka://{kafka}") as conn, conn.channel() as channel:
        kombu.Producer(channel).publish(
            {"warm": "up"}, exchange=queue.exchange, routing_key="warm-up", declare=[queue]
        )
        with kombu.Consumer(
            conn, [queue], callbacks=[lambda body, msg: (received.append(body), msg.ack())]
        ):
            conn.drain_events(timeout=60)
    assert received == [{"warm": "up"}]


@pytest.fixture
def connection(kafka: str) -> Iterator[kombu.Connection]:
    conn = _connection(f"kelery+kafka://{kafka}")
    yield conn
    conn.close()


@pytest.fixture
def invalid_connection() -> kombu.Connection:
    return _connection("kelery+kafka://127.0.0.1:1", connect_timeout=2)


@pytest.fixture
def failover_connection(kafka: str) -> Iterator[kombu.Connection]:
    # ``kelery://``: one broker per URL, parsed by kombu, as kombu's failover expects
    conn = _connection(f"kelery://127.0.0.1:1;kelery://{kafka}", connect_timeout=5)
    yield conn
    conn.close()


if common is None:

    def test_kombu_integration_classes_are_available() -> None:
        pytest.fail(f"kombu's integration tests could not be loaded: {why_not}")

else:

    class TestKeleryBasicFunctionality(common.BasicFunctionality):  # type: ignore[name-defined,misc]
        pass

    class TestKeleryExchangeTypes(common.BaseExchangeTypes):  # type: ignore[name-defined,misc]
        pass

    class TestKeleryMessage(common.BaseMessage):  # type: ignore[name-defined,misc]
        pass

    class TestKeleryFailover(common.BaseFailover):  # type: ignore[name-defined,misc]
        pass


def test_the_transport_under_test_is_ours(connection: kombu.Connection) -> None:
    assert f"{type(connection.transport).__module__}:{type(connection.transport).__name__}" in (
        TRANSPORT_PATH,
        "kelery.tasks.transport.transport:Transport",
        URL_PARSED_TRANSPORT_PATH,
    )
