"""The two ways getting a Kafka can fail, each carrying a message meant for a person.

CLIs and the pytest plugin print ``str(error)`` as is, so every message here is a
complete paragraph that says what to do, never a bare exception name.
"""

from __future__ import annotations

__all__ = ["BrokerStartError", "KafkaUnavailableError", "missing_tool_message"]


class KafkaUnavailableError(RuntimeError):
    """No broker can be had on this machine: a tool is missing or a cluster cannot be reached."""


class BrokerStartError(RuntimeError):
    """A local broker was launched but did not become ready; the message holds its log tail."""


def missing_tool_message(tool: str) -> str:
    """Explain, in one paragraph, how to get a Kafka when `tool` (java or mvn) is absent.

    Naming every way out matters more than naming the failure: people on a laptop want
    the apt line, people with a cluster want the variables.
    """
    return (
        f"Cannot start a local Apache Kafka broker: `{tool}` was not found on PATH. "
        "Kelery runs Kafka 4.x from the official jars, which needs Java 17+ and, the first "
        "time only, Maven to fetch the jars (Debian/Ubuntu: "
        "`apt-get install openjdk-17-jre-headless maven`). Alternatively point Kelery at a "
        "broker you already have with KELERY_TEST_KAFKA or KAFKA_BOOTSTRAP_SERVERS "
        "(e.g. `export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092`), set KAFKA_HOME to an "
        "unpacked Kafka distribution so Maven is not needed, or start a Docker engine so "
        "testcontainers can run Kafka in a container."
    )
