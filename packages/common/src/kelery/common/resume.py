"""Resuming paused partitions so that fetching restarts at once, not a second later.

librdkafka's ``resume()`` clears the pause but does not wake the broker threads,
which sleep up to a second while they have nothing to fetch: measured here, a
resumed partition fetched nothing for 800 ms to 1 s, and so did one handed back
paused by a rebalance. Any request to a broker wakes its thread, so
:func:`resume_fetching` follows the resume with a ListOffsets for the same
partitions (``offsets_for_times``: one round trip to each leader, the answer
unused). With another thread keeping the GIL busy, as a Celery worker's does,
the 1,500 records left in six partitions then arrived in 36 to 46 ms.

A seek wakes them too, and was tried first, but a seek throws away what the
fetcher has already fetched again for that partition, which then waits out the
broker's long poll of the idle ones (``fetch.wait.max.ms``): gaps of 0.3 to
0.9 s in a worker's run. Fetching resumes where the application stopped
reading (librdkafka keeps that position across a pause), so nothing is skipped
or read twice.

The wake-up is the request being sent, not its answer, so the call waits for the
answer only briefly (``WAKE_WAIT_S``). A broker answers one connection's requests
in order: while it holds a fetch of other, idle partitions for up to
``fetch.wait.max.ms`` (500 ms by default), the ListOffsets answer waits behind
it, and so did the calling thread when it waited for it. That was a Celery
worker's consumer thread right after its assignment: the worker ran the first
partition's tasks, then stood idle for 0.45 s in this call.
"""

from __future__ import annotations

import logging

from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

log = logging.getLogger(__name__)

__all__ = ["WAKE_WAIT_S", "resume_fetching", "resume_leaving"]

WAKE_WAIT_S = 0.01


def resume_fetching(
    consumer: Consumer, partitions: list[TopicPartition], wait: float = WAKE_WAIT_S
) -> None:
    """Resume ``partitions`` on ``consumer`` and wake its fetcher.

    Call it from the thread that polls ``consumer``. It returns once the wake-up
    request is sent and answered, or after ``wait`` (the answer is not needed; see
    the module docstring). A wake-up that could not be sent (no leader known for
    the partitions within ``wait``) is logged at debug level: the fetcher then
    starts on its own, up to a second later.
    """
    if not partitions:
        return
    consumer.resume(partitions)
    latest = [TopicPartition(tp.topic, tp.partition, OFFSET_END) for tp in partitions]
    try:
        consumer.offsets_for_times(latest, timeout=wait)
    except KafkaException as exc:
        log.debug("wake-up after a resume not answered within %.3f s: %s", wait, exc)


def resume_leaving(consumer: Consumer, partitions: list[TopicPartition]) -> None:
    """Resume ``partitions`` as they are revoked or lost, so that none comes back paused.

    A pause outlives a rebalance in librdkafka: a partition revoked while paused
    and handed back later would never be fetched again. Inside the revoke (or
    lost) callback the partitions are still assigned, so that is the moment. No
    wake-up: they are leaving.
    """
    try:
        consumer.resume(partitions)
    except KafkaException as exc:
        log.warning("could not resume partitions leaving the assignment: %s", exc)
