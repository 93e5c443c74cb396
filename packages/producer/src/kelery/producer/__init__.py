"""kelery-produce: a reliable, fast Kafka producer CLI."""

__version__ = "0.1.0"
