"""kelery-consume: routes Kafka events to Celery tasks, at least once."""

__version__ = "0.1.0"
