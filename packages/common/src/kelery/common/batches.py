"""Reading records in batches without waiting for a batch to fill.

confluent-kafka's ``Consumer.consume(num_messages, timeout)`` returns once it
has ``num_messages`` records or once ``timeout`` has passed, whichever comes
first: with fewer records than asked for, it keeps the ones it has until the
timeout ends. Measured here (confluent-kafka 2.16.1, local broker): one record
sent to an idle consumer came back from ``consume(500, timeout=2.0)`` 2,000 ms
after the broker acknowledged it, and from ``poll(2.0)`` 0.1 ms after.
``kelery-consume`` read with ``consume(500, timeout=0.5)``, which added 0 to
500 ms to every chat command on its way to Celery (a p50 of 336 ms for a whole
``!echo`` round trip through the system).

:func:`poll_batch` waits for the first record alone (``poll``), then takes
only what librdkafka has already fetched (``consume`` with no wait): a lone
record is handed over at once, and a busy consumer still gets full batches.
"""

from __future__ import annotations

from confluent_kafka import Consumer, Message

__all__ = ["poll_batch"]


def poll_batch(consumer: Consumer, limit: int, timeout: float) -> list[Message]:
    """Up to ``limit`` records (or error events) from ``consumer``, the first as soon as it comes.

    Blocks up to ``timeout`` seconds for the first one, and not at all for the
    rest; an empty list means nothing came within ``timeout``. Rebalance and other
    callbacks run inside it, as in ``poll`` and ``consume``.
    """
    first = consumer.poll(timeout)
    if first is None:
        return []
    if limit <= 1:
        return [first]
    return [first, *consumer.consume(num_messages=limit - 1, timeout=0)]
