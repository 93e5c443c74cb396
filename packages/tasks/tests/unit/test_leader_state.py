"""The election's state machine: partition 0 makes the leader; revoke or loss ends it."""

from confluent_kafka import TopicPartition

from kelery.common.settings import KafkaSettings
from kelery.tasks.leader import LeaderElection


def _election() -> LeaderElection:
    # Never started: only the rebalance callbacks are exercised, as librdkafka calls them.
    return LeaderElection(KafkaSettings(bootstrap_servers=["127.0.0.1:1"]), topic="t", group_id="g")


def test_assigned_partition_0_is_leader_until_revoked() -> None:
    election = _election()
    assert not election.is_leader
    election._on_assign(None, [TopicPartition("t", 0)])  # type: ignore[arg-type]
    assert election.is_leader
    assert election.wait_for_leadership(0)
    election._on_revoke(None, [TopicPartition("t", 0)])  # type: ignore[arg-type]
    assert not election.is_leader


def test_lost_membership_ends_leadership() -> None:
    election = _election()
    election._on_assign(None, [TopicPartition("t", 0)])  # type: ignore[arg-type]
    election._on_lost(None, [TopicPartition("t", 0)])  # type: ignore[arg-type]
    assert not election.is_leader


def test_an_empty_assignment_is_not_leadership() -> None:
    election = _election()
    election._on_assign(None, [])  # type: ignore[arg-type]
    assert not election.is_leader
    election._on_revoke(None, [])  # type: ignore[arg-type]
    assert not election.is_leader
