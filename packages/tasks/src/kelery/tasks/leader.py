"""Leader election through a Kafka consumer group, so only one beat fires.

Every beat process joins the consumer group ``BEAT_LEADER_GROUP`` on a topic
with exactly one partition (``BEAT_LEADER_TOPIC``). Kafka's group coordinator
gives that partition to exactly one live member: that member is the leader.
A background thread polls the consumer (which is what keeps the membership
alive) and follows the rebalance callbacks: assigned partition 0 -> leader;
revoked or lost -> follower at once.

Takeover bound: when the leader dies without leaving (``kill -9``, power off),
the coordinator expires it after ``session.timeout.ms`` (``BEAT_SESSION_TIMEOUT_MS``,
6 s by default, the broker's minimum), then the survivor rejoins on its next
heartbeat (``heartbeat.interval.ms`` = timeout / 6) and is assigned the
partition: about timeout + 2 x heartbeat, under 10 s with the defaults. A leader
that stops cleanly leaves the group and hands over at once. The eager
(``range``) assignor revokes before it assigns, so two live members are never
leaders at the same time; a leader cut off from the cluster considers itself
lost when its own session times out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaException, TopicPartition

from kelery.common.kafka_config import client_config
from kelery.common.settings import KafkaSettings
from kelery.common.topics import TopicSpec, ensure_topics

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.25
LEADER_PARTITION = 0


class LeaderElection:
    """Membership in the beat group; :attr:`is_leader` says whether this one fires."""

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        topic: str,
        group_id: str,
        session_timeout_ms: int = 6000,
        member_name: str = "beat",
    ) -> None:
        self._kafka = kafka
        self.topic = topic
        self.group_id = group_id
        self.session_timeout_ms = session_timeout_ms
        self.member_name = member_name
        self._leader = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def is_leader(self) -> bool:
        """True while this process holds the leader partition."""
        return self._leader.is_set()

    def wait_for_leadership(self, timeout: float) -> bool:
        """Block until this process is leader or ``timeout`` passes; True if leader."""
        return self._leader.wait(timeout)

    def start(self) -> None:
        """Create the one-partition topic if needed and join the group in a thread."""
        ensure_topics(self._kafka, [TopicSpec(self.topic, partitions=1)])
        heartbeat_ms = max(100, self.session_timeout_ms // 6)
        consumer = Consumer(
            client_config(
                self._kafka,
                "consumer",
                group_id=self.group_id,
                client_id=f"{self._kafka.client_id}-{self.member_name}",
                session_timeout_ms=self.session_timeout_ms,
                heartbeat_interval_ms=heartbeat_ms,
                partition_assignment_strategy="range",
            )
        )
        consumer.subscribe(
            [self.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self._thread = threading.Thread(
            target=self._run, args=(consumer,), name="kelery-beat-leader", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Leave the group (hands leadership over at once) and stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._leader.clear()

    def _run(self, consumer: Consumer) -> None:
        try:
            while not self._stop.is_set():
                record = consumer.poll(POLL_INTERVAL_S)
                if record is not None and record.error() is not None:
                    log.warning("beat leader election: %s", record.error())
        except KafkaException:
            log.exception("beat leader election failed; this beat stops firing")
        finally:
            self._set_leader(leader=False, why="leaving the group")
            consumer.close()

    def _on_assign(self, _consumer: Consumer, partitions: Sequence[TopicPartition]) -> None:
        if any(p.partition == LEADER_PARTITION for p in partitions):
            self._set_leader(leader=True, why="assigned the leader partition")

    def _on_revoke(self, _consumer: Consumer, partitions: Sequence[TopicPartition]) -> None:
        if any(p.partition == LEADER_PARTITION for p in partitions):
            self._set_leader(leader=False, why="leader partition revoked")

    def _on_lost(self, _consumer: Consumer, partitions: Sequence[TopicPartition]) -> None:
        if any(p.partition == LEADER_PARTITION for p in partitions):
            self._set_leader(leader=False, why="group membership lost")

    def _set_leader(self, *, leader: bool, why: str) -> None:
        if leader == self._leader.is_set():
            return
        if leader:
            self._leader.set()
            log.info("beat %s is now the leader (%s)", self.member_name, why)
        else:
            self._leader.clear()
            log.info("beat %s is no longer the leader (%s)", self.member_name, why)
