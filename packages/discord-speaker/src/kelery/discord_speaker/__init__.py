"""A nextcord bot that posts Kafka messages to Discord."""

__version__ = "0.1.0"
