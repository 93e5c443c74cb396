"""``queue_purge`` on Kafka: delete a queue topic's records up to its end.

A topic cannot drop single records, but Kafka's DeleteRecords moves a
partition's log start forward, which is what ``celery purge`` means: the tasks
waiting now are gone, for good, and the ones published afterwards are kept. The
count returned is what the workers' group had not consumed yet (the records
between its committed offset and the end), which is the number Celery prints.

A worker's group offset that falls below the new log start is reset by
librdkafka to the earliest record (the consumers' ``auto.offset.reset``), so
workers carry on with the first task published after the purge. Tasks a worker
has already fetched and not finished are not recalled: they run.
"""

from __future__ import annotations

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from kelery.common.topics import EARLIEST, LATEST, partition_offsets


def _committed(
    admin: AdminClient, group: str, partitions: list[TopicPartition], timeout: float
) -> dict[int, int]:
    request = [ConsumerGroupTopicPartitions(group, partitions)]
    futures = admin.list_consumer_group_offsets(request, request_timeout=timeout)
    result = futures[group].result()
    return {tp.partition: int(tp.offset) for tp in result.topic_partitions or ()}


def purge_topic(admin: AdminClient, topic: str, group: str, *, timeout: float) -> int:
    """Delete ``topic``'s records up to its current end; return how many ``group`` had left.

    A topic that does not exist holds nothing: 0, and nothing is created.
    """
    info = admin.list_topics(timeout=timeout).topics.get(topic)
    if info is None or not info.partitions:
        return 0
    partitions = [TopicPartition(topic, partition) for partition in sorted(info.partitions)]
    ends = partition_offsets(admin, topic, info.partitions, LATEST, timeout=timeout)
    starts = partition_offsets(admin, topic, info.partitions, EARLIEST, timeout=timeout)
    committed = _committed(admin, group, partitions, timeout)
    waiting = sum(max(0, ends[p] - max(starts[p], committed.get(p, -1))) for p in ends)
    to_delete = [TopicPartition(topic, p, ends[p]) for p in ends if ends[p] > starts[p]]
    if to_delete:
        futures = admin.delete_records(to_delete, request_timeout=timeout)
        for future in futures.values():
            future.result()
    return waiting
