"""A nextcord bot that forwards Discord messages to Kafka."""

__version__ = "0.1.0"
