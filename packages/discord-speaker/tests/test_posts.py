import pytest

from kelery.common.schemas import SpeakMessage
from kelery.discord_speaker.nonce import post_nonce
from kelery.discord_speaker.posts import UndeliverableError, plan_posts


def test_payload_suppresses_every_mention_by_default() -> None:
    message = SpeakMessage(content="@everyone <@&123> <@456> hi", channel_id="10")
    (post,) = plan_posts(message, default_channel=None)
    payload = post.payload()
    assert payload["allowed_mentions"] == {"parse": []}
    assert payload["content"] == "@everyone <@&123> <@456> hi"
    assert payload["enforce_nonce"] is True
    assert payload["nonce"] == post_nonce(message.uuid, 0)


def test_allowed_mentions_can_be_opened_explicitly() -> None:
    message = SpeakMessage(content="<@456>", channel_id="10")
    (post,) = plan_posts(message, default_channel=None, allowed_mentions=["users"])
    assert post.payload()["allowed_mentions"] == {"parse": ["users"]}


def test_message_without_channel_goes_to_the_announcement_channel() -> None:
    (post,) = plan_posts(SpeakMessage(content="hi"), default_channel=777)
    assert post.channel_id == 777


def test_message_without_any_channel_is_undeliverable() -> None:
    with pytest.raises(UndeliverableError, match="ANNOUNCEMENT_CHANNEL_ID"):
        plan_posts(SpeakMessage(content="hi"), default_channel=None)


@pytest.mark.parametrize("channel", ["abc", "-5", "0", "1e5", str(2**64), "١٢٣"])
def test_bad_channel_ids_are_undeliverable(channel: str) -> None:
    with pytest.raises(UndeliverableError, match="not a Discord channel id"):
        plan_posts(SpeakMessage(content="hi", channel_id=channel), default_channel=1)


@pytest.mark.parametrize("content", ["", "   ", "\n\n\t"])
def test_empty_content_is_undeliverable(content: str) -> None:
    with pytest.raises(UndeliverableError, match="empty"):
        plan_posts(SpeakMessage(content=content, channel_id="1"), default_channel=None)


def test_long_message_becomes_parts_with_their_own_nonces() -> None:
    message = SpeakMessage(content=("w" * 59 + "\n") * 50, channel_id="9")  # 3,000 chars
    posts = plan_posts(message, default_channel=None)
    assert [len(p.content) for p in posts] == [1980, 1020]
    assert [p.nonce for p in posts] == [post_nonce(message.uuid, 0), post_nonce(message.uuid, 1)]
    assert {p.channel_id for p in posts} == {9}


def test_white_space_only_parts_are_left_out() -> None:
    message = SpeakMessage(content="a" * 2000 + "\n" * 2500 + "b", channel_id="9")
    posts = plan_posts(message, default_channel=None)
    assert [p.content.strip() for p in posts] == ["a" * 2000, "b"]
