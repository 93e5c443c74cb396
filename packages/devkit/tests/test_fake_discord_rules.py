"""Pure rules of the fake Discord: nonce de-duplication, failure queue, mention parsing."""

from __future__ import annotations

import pytest

from kelery.devkit.fake_discord.mentions import pings_of
from kelery.devkit.fake_discord.state import FakeDiscordState, NotFoundError


def test_enforce_nonce_returns_the_original_message() -> None:
    state = FakeDiscordState()
    bot = state.bot_for_token("token-a")
    channel = state.channel("general").id
    first, created = state.post(
        channel, bot, {"content": "hi", "nonce": "n1", "enforce_nonce": True}
    )
    again, created_again = state.post(
        channel, bot, {"content": "hi", "nonce": "n1", "enforce_nonce": True}
    )
    assert created
    assert not created_again
    assert again.id == first.id
    assert [p.message.id for p in state.posts(channel)] == [first.id]


def test_nonce_without_enforce_creates_each_time_and_bots_do_not_share_nonces() -> None:
    state = FakeDiscordState()
    channel = state.channel("general").id
    one, two = state.bot_for_token("token-a"), state.bot_for_token("token-b")
    state.post(channel, one, {"content": "x", "nonce": "n"})
    state.post(channel, one, {"content": "x", "nonce": "n"})
    _, created = state.post(channel, two, {"content": "x", "nonce": "n", "enforce_nonce": True})
    assert created
    assert len(state.posts(channel)) == 3


def test_failures_apply_in_order_and_per_channel() -> None:
    state = FakeDiscordState()
    general, other = state.channel("general").id, state.channel("random").id
    state.fail_next(1, 403, channel_id=other)
    state.fail_next(2, 429, retry_after=0.5)
    first = state.take_failure(general)
    assert first is not None
    assert (first.status, first.retry_after) == (429, 0.5)
    forbidden = state.take_failure(other)
    assert forbidden is not None
    assert forbidden.status == 403
    second = state.take_failure(other)
    assert second is not None
    assert second.status == 429
    assert state.take_failure(general) is None


def test_failure_status_is_checked() -> None:
    with pytest.raises(ValueError, match="418"):
        FakeDiscordState().fail_next(1, 418)


def test_channels_by_name_or_id_and_unknown_is_an_error() -> None:
    state = FakeDiscordState(channels=("a", "b"))
    b = state.channel("b")
    assert state.channel(b.id) == b
    assert state.channel(str(b.id)) == b
    with pytest.raises(NotFoundError):
        state.channel("nope")
    with pytest.raises(NotFoundError):
        state.post(12345, state.bot_for_token("t"), {"content": "x"})


def test_one_bot_per_token() -> None:
    state = FakeDiscordState()
    assert state.bot_for_token("t1") == state.bot_for_token("t1")
    assert state.bot_for_token("t1").id != state.bot_for_token("t2").id
    assert state.bot_for_token("t1").bot


@pytest.mark.parametrize(
    ("content", "allowed", "everyone", "users", "roles"),
    [
        ("@everyone hi <@12> <@&34>", None, True, {12}, {34}),
        ("@everyone hi <@!12> <@&34>", {"parse": []}, False, set(), set()),
        ("@here <@12> <@13>", {"parse": [], "users": ["13"]}, False, {13}, set()),
        ("@here <@&34>", {"parse": ["everyone", "roles"]}, True, set(), {34}),
        ("hello <@12>", {"parse": ["everyone"]}, False, set(), set()),
    ],
)
def test_pings_follow_allowed_mentions(
    content: str,
    allowed: dict[str, object] | None,
    everyone: bool,
    users: set[int],
    roles: set[int],
) -> None:
    payload = {"content": content} if allowed is None else {"allowed_mentions": allowed}
    pings = pings_of(content, payload)
    assert pings.everyone is everyone
    assert pings.users == users
    assert pings.roles == roles
