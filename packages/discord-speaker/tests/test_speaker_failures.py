"""What the speaker does when Discord refuses, a record is bad, or the speaker dies."""

from __future__ import annotations

import signal
import time

import pytest

from kelery.common.dlq import ERROR_HEADER, ORIGIN_OFFSET_HEADER, ORIGIN_TOPIC_HEADER, STAGE_HEADER
from kelery.common.schemas import SpeakMessage
from kelery.discord_speaker.nonce import post_nonce

pytestmark = pytest.mark.integration

UNKNOWN_CHANNEL = "424242424242424242"


def test_refused_and_bad_messages_go_to_the_dlq_and_later_ones_still_post(speaker_world) -> None:
    fake = speaker_world.fake
    general = fake.channel_id("general")
    fake.fail_next(1, 403, channel_id=general)
    speaker_world.produce(
        SpeakMessage(content="forbidden", channel_id=general),  # 403 Missing Access
        SpeakMessage(content="nowhere", channel_id=UNKNOWN_CHANNEL),  # 404 Unknown Channel
        SpeakMessage(content="   ", channel_id=general),  # empty
        b"{not json",
        SpeakMessage(content="still here", channel_id=general),
    )

    speaker = speaker_world.start()
    (posted,) = fake.wait_for_posts("general", 1)
    dead = speaker_world.read_dlq(4)

    assert posted.content == "still here"
    assert [h[ORIGIN_OFFSET_HEADER] for _, h in dead] == ["0", "1", "2", "3"]
    errors = [h[ERROR_HEADER] for _, h in dead]
    assert errors[0].startswith("discord answered 403: Missing Access")
    assert errors[1].startswith("discord answered 404: Unknown Channel")
    assert errors[2] == "content is empty"
    assert errors[3].startswith("not JSON")
    assert {h[STAGE_HEADER] for _, h in dead} == {"speaker"}
    assert {h[ORIGIN_TOPIC_HEADER] for _, h in dead} == {speaker_world.topic}
    assert dead[3][0] == b"{not json"
    assert speaker.stop() == 0, speaker.log()
    assert speaker_world.committed() == 5


def test_kill_9_between_post_and_commit_then_restart_leaves_one_post(speaker_world) -> None:
    fake = speaker_world.fake
    general = fake.channel_id("general")
    first = SpeakMessage(content="exactly once", channel_id=general)
    speaker_world.produce(first)

    # The first speaker waits 10 minutes between a post and its commit, so the kill
    # below lands in that window whatever the machine's speed.
    doomed = speaker_world.start(SPEAKER_COMMIT_DELAY_SECONDS="600", SPEAKER_INSTANCE_ID="s1")
    fake.wait_for_posts("general", 1)
    assert doomed.stop(signal.SIGKILL) == -signal.SIGKILL
    assert speaker_world.committed() < 1  # the kill landed before the commit

    second = SpeakMessage(content="after the restart", channel_id=general)
    speaker_world.produce(second)
    restarted = speaker_world.start(SPEAKER_INSTANCE_ID="s1")
    posts = fake.wait_for_posts("general", 2)

    assert [p.content for p in posts] == ["exactly once", "after the restart"]
    nonce = post_nonce(first.uuid, 0)
    # the restarted speaker did post the first message again; the nonce made it a no-op
    assert [a.status for a in fake.state.attempts(general) if a.payload.get("nonce") == nonce] == [
        200,
        200,
    ]
    assert restarted.stop() == 0, restarted.log()
    assert [p.content for p in fake.posts("general")] == ["exactly once", "after the restart"]
    assert speaker_world.committed() == 2


def test_a_second_speaker_joining_the_group_loses_and_repeats_nothing(
    speaker_world, kafka_admin
) -> None:
    from confluent_kafka.admin import NewTopic

    kafka_admin.create_topics([NewTopic(speaker_world.topic, 2, 1)])[speaker_world.topic].result(30)
    fake = speaker_world.fake
    general = fake.channel_id("general")
    producer = speaker_world.producer()

    def produce(label: str) -> None:
        for partition in (0, 1):
            message = SpeakMessage(content=f"{label} p{partition}", channel_id=general)
            producer.produce(speaker_world.topic, message.to_json_bytes(), partition=partition)
        assert producer.flush(30) == 0

    produce("first")
    first = speaker_world.start()
    fake.wait_for_posts("general", 2)  # the first speaker owns both partitions

    second = speaker_world.start()  # joining revokes the first speaker's partitions
    _wait_until_both_have_a_partition(kafka_admin, speaker_world.group_id)
    produce("second")
    fake.wait_for_posts("general", 4)

    assert first.stop() == 0, first.log()
    assert second.stop() == 0, second.log()
    contents = sorted(p.content for p in fake.posts("general"))
    assert contents == ["first p0", "first p1", "second p0", "second p1"]
    assert "revoked partitions [0, 1] (posted offsets committed)" in first.log()
    assert "Traceback" not in first.log() + second.log()
    assert {speaker_world.committed(partition) for partition in (0, 1)} == {2}


def _wait_until_both_have_a_partition(admin, group_id: str) -> None:
    for _ in range(300):
        (group,) = admin.describe_consumer_groups([group_id]).values()
        members = group.result(30).members
        if len(members) == 2 and all(m.assignment.topic_partitions for m in members):
            return
        time.sleep(0.1)
    raise AssertionError(f"group {group_id} never spread over two speakers")
