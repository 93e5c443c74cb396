"""A real Apache Kafka for tests and development: found, or started as a local JVM broker.

Only the standard library is imported here; confluent_kafka and testcontainers load
when a broker is actually needed.
"""

from kelery.devkit.kafka.errors import BrokerStartError, KafkaUnavailableError
from kelery.devkit.kafka.jars import KAFKA_VERSION, KafkaJars, resolve_jars
from kelery.devkit.kafka.local import LocalKafka

__all__ = [
    "KAFKA_VERSION",
    "BrokerStartError",
    "KafkaJars",
    "KafkaUnavailableError",
    "LocalKafka",
    "resolve_jars",
]
