"""Shared settings, logging, message schemas and Kafka client config for Kelery."""

__version__ = "0.1.0"
