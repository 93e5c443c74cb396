"""The real speaker (subprocess) against the real Kafka and the fake Discord."""

from __future__ import annotations

import pytest

from kelery.common.schemas import SpeakMessage
from kelery.discord_speaker.nonce import post_nonce

pytestmark = pytest.mark.integration


def test_message_is_posted_with_mentions_suppressed_and_committed_on_sigterm(
    speaker_world,
) -> None:
    fake = speaker_world.fake
    general = fake.channel_id("general")
    loud = SpeakMessage(content="@everyone <@&123> <@456> the build is green", channel_id=general)
    announcement = SpeakMessage(content="no channel: goes to announcements")
    speaker_world.produce(loud, announcement)

    speaker = speaker_world.start()
    (posted,) = fake.wait_for_posts("general", 1)
    (announced,) = fake.wait_for_posts("announcements", 1)

    assert posted.content == loud.content
    assert posted.allowed_mentions == {"parse": []}
    assert not posted.pings.anyone
    assert posted.nonce == post_nonce(loud.uuid, 0)
    assert posted.payload["enforce_nonce"] is True
    assert announced.content == announcement.content

    assert speaker.stop() == 0, speaker.log()
    assert speaker_world.committed() == 2


def test_3000_characters_arrive_as_two_posts_cut_between_lines(speaker_world) -> None:
    fake = speaker_world.fake
    text = "".join(f"line {n:04d} " + "x" * 89 + "\n" for n in range(30))  # 30 x 100 chars
    assert len(text) == 3000
    message = SpeakMessage(content=text, channel_id=fake.channel_id("general"))
    speaker_world.produce(message)

    speaker = speaker_world.start()
    first, second = fake.wait_for_posts("general", 2)

    assert [len(first.content), len(second.content)] == [2000, 1000]
    assert first.content + second.content == text
    assert first.content.endswith("\n")
    assert [first.nonce, second.nonce] == [post_nonce(message.uuid, 0), post_nonce(message.uuid, 1)]
    assert speaker.stop() == 0, speaker.log()
    assert len(fake.posts("general")) == 2


def test_429_delays_posts_but_loses_none(speaker_world) -> None:
    fake = speaker_world.fake
    general = fake.channel_id("general")
    fake.fail_next(2, 429, retry_after=0.3, channel_id=general)
    messages = [SpeakMessage(content=f"message {n}", channel_id=general) for n in range(3)]
    speaker_world.produce(*messages)

    speaker = speaker_world.start()
    posts = fake.wait_for_posts("general", 3)

    assert [p.content for p in posts] == ["message 0", "message 1", "message 2"]
    statuses = [a.status for a in fake.state.attempts(general)]
    assert statuses == [429, 429, 200, 200, 200]
    assert speaker.stop() == 0, speaker.log()
    assert len(fake.posts("general")) == 3
    assert speaker_world.committed() == 3


def test_gateway_drop_does_not_stop_the_speaker(speaker_world) -> None:
    fake = speaker_world.fake
    general = fake.channel_id("general")
    speaker_world.produce(SpeakMessage(content="before", channel_id=general))
    speaker = speaker_world.start()
    fake.wait_for_posts("general", 1)

    fake.drop_gateway()
    fake.wait_for_gateway("resume", 1)
    speaker_world.produce(SpeakMessage(content="after", channel_id=general))
    posts = fake.wait_for_posts("general", 2)

    assert [p.content for p in posts] == ["before", "after"]
    assert speaker.stop() == 0, speaker.log()
