"""Run Kelery on one machine: a real local Kafka, a fake Discord, the pytest plugin, kelery-dev."""

__version__ = "0.1.0"
