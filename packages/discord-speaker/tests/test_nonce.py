import uuid

import pytest

from kelery.discord_speaker.nonce import NONCE_LENGTH, post_nonce


def test_nonce_is_25_characters_for_any_uuid_shape() -> None:
    for value in (str(uuid.uuid4()), "42", "x" * 128, "ünïcødé"):
        assert len(post_nonce(value, 0)) == NONCE_LENGTH == 25


def test_same_message_and_part_give_the_same_nonce() -> None:
    value = str(uuid.uuid4())
    assert post_nonce(value, 3) == post_nonce(value, 3)


def test_parts_and_messages_get_different_nonces() -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    nonces = {post_nonce(a, 0), post_nonce(a, 1), post_nonce(b, 0), post_nonce(b, 1)}
    assert len(nonces) == 4


def test_part_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="part"):
        post_nonce("u", -1)
    with pytest.raises(ValueError, match="part"):
        post_nonce("u", 10_000)
