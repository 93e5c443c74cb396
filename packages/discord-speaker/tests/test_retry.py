"""The speaker's per-post retry decisions, with a scripted post function (pure logic)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
import pytest

from kelery.discord_speaker._nextcord import nextcord
from kelery.discord_speaker.posts import PlannedPost
from kelery.discord_speaker.settings import SpeakerSettings
from kelery.discord_speaker.speaker import Speaker, SpeakerFatalError, _Stopping

POST = PlannedPost(channel_id=1, content="hi", nonce="n" * 25)


@dataclass
class _Response:
    status: int
    reason: str = "reason"


class ScriptedPost:
    """Answers each call with the next scripted outcome: an exception to raise, or success."""

    def __init__(self, *outcomes: BaseException | None) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[PlannedPost] = []

    async def __call__(self, post: PlannedPost) -> object:
        self.calls.append(post)
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return {"id": "1"}


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> SpeakerSettings:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    monkeypatch.setenv("DISCORD_API_BASE", "http://127.0.0.1:1/api/v10")
    return SpeakerSettings(SPEAKER_RETRY_MAX_SECONDS=0.01)


async def test_transient_failures_are_retried_until_the_post_is_accepted(
    settings: SpeakerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kelery.discord_speaker.speaker.FIRST_RETRY_SECONDS", 0.001)
    post = ScriptedPost(
        nextcord.DiscordServerError(_Response(503), {"message": "down", "code": 0}),
        aiohttp.ClientConnectionError("refused"),
        None,
    )
    speaker = Speaker(settings, post, asyncio.Event())
    assert await speaker._post_until_done(POST) is None
    assert post.calls == [POST, POST, POST]  # the same post, so the same nonce
    assert speaker.stats.retries == 2
    assert speaker.stats.posted_parts == 1


async def test_a_refusal_is_returned_as_the_reason_without_retrying(
    settings: SpeakerSettings,
) -> None:
    post = ScriptedPost(nextcord.Forbidden(_Response(403), {"message": "Missing Access"}))
    speaker = Speaker(settings, post, asyncio.Event())
    reason = await speaker._post_until_done(POST)
    assert reason is not None
    assert reason.startswith("discord answered 403: Missing Access")
    assert len(post.calls) == 1


async def test_a_bad_token_raises_fatal(settings: SpeakerSettings) -> None:
    post = ScriptedPost(nextcord.HTTPException(_Response(401), {"message": "401: Unauthorized"}))
    speaker = Speaker(settings, post, asyncio.Event())
    with pytest.raises(SpeakerFatalError, match="401"):
        await speaker._post_until_done(POST)


async def test_a_stop_during_retries_leaves_the_record_unfinished(
    settings: SpeakerSettings,
) -> None:
    stop = asyncio.Event()
    stop.set()
    post = ScriptedPost(aiohttp.ClientConnectionError("refused"), None)
    speaker = Speaker(settings, post, stop)
    with pytest.raises(_Stopping):
        await speaker._post_until_done(POST)
    assert len(post.calls) == 1
    assert speaker.stats.posted_parts == 0
