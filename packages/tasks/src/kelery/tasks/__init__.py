"""The Kelery Celery app, its Kafka transport for kombu, the chat tasks and beat."""

__version__ = "0.1.0"
