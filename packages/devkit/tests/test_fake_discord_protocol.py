"""The fake Discord's wire protocol, checked with a plain aiohttp client.

These pin down the facts nextcord depends on (exact JSON content type, zlib-stream
frames ending in Z_SYNC_FLUSH, READY then GUILD_CREATE, RESUME replaying missed
events, Discord-shaped 429s) without needing nextcord itself.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from kelery.devkit.fake_discord import FakeDiscord, serve

TOKEN = "Bot test-token"  # noqa: S105 - the fake accepts any token


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with serve() as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": TOKEN}) as session:
        yield session


class _Gateway:
    """A minimal zlib-stream gateway client."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.inflater = zlib.decompressobj()
        self.buffer = bytearray()

    async def recv(self) -> dict[str, Any]:
        while True:
            msg = await self.ws.receive(timeout=10)
            assert msg.type is aiohttp.WSMsgType.BINARY, msg
            self.buffer.extend(msg.data)
            if self.buffer[-4:] == b"\x00\x00\xff\xff":
                frame = json.loads(self.inflater.decompress(bytes(self.buffer)))
                self.buffer.clear()
                assert isinstance(frame, dict)
                return frame

    async def send(self, op: int, data: Any) -> None:
        await self.ws.send_str(json.dumps({"op": op, "d": data}))

    async def until(self, event: str) -> dict[str, Any]:
        while (frame := await self.recv()).get("t") != event:
            pass
        return frame


async def _connect(http: aiohttp.ClientSession, fake: FakeDiscord) -> _Gateway:
    async with http.get(f"{fake.api_base}/gateway") as resp:
        url = (await resp.json())["url"]
    ws = await http.ws_connect(f"{url}?encoding=json&v=10&compress=zlib-stream")
    return _Gateway(ws)


async def test_rest_answers_exact_json_and_requires_a_token(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{fake.api_base}/users/@me") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json"
        me = await resp.json()
    assert me["bot"] is True
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(f"{fake.api_base}/users/@me") as resp,
    ):
        assert resp.status == 401
    async with http.get(f"{fake.api_base}/applications/{me['id']}/commands") as resp:
        assert await resp.json() == []
    general = fake.channel_id("general")
    async with http.get(f"{fake.api_base}/channels/{general}") as resp:
        assert (await resp.json())["name"] == "general"
    async with http.get(f"{fake.api_base}/channels/1") as resp:
        assert resp.status == 404
        assert (await resp.json())["code"] == 10003


async def test_identify_ready_guild_create_and_message_dispatch(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    gw = await _connect(http, fake)
    hello = await gw.recv()
    assert hello["op"] == 10
    assert hello["d"]["heartbeat_interval"] > 0
    await gw.send(1, None)
    assert (await gw.recv())["op"] == 11
    await gw.send(2, {"token": "test-token", "intents": (1 << 0) | (1 << 9) | (1 << 15)})
    ready = await gw.recv()
    assert ready["t"] == "READY"
    assert ready["d"]["guilds"] == [{"id": str(fake.guild_id), "unavailable": True}]
    guild = await gw.recv()
    assert guild["t"] == "GUILD_CREATE"
    assert {c["name"] for c in guild["d"]["channels"]} == {"general", "random", "announcements"}
    injected = fake.inject_message("random", "hello <@1>", author="bob")
    created = await gw.until("MESSAGE_CREATE")
    assert created["d"]["content"] == "hello <@1>"
    assert created["d"]["id"] == str(injected.id)
    assert created["d"]["author"]["username"] == "bob"
    assert created["d"]["channel_id"] == str(fake.channel_id("random"))
    assert created["d"]["guild_id"] == str(fake.guild_id)
    await gw.ws.close()


async def test_message_content_needs_its_intent(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    gw = await _connect(http, fake)
    await gw.recv()
    await gw.send(2, {"token": "test-token", "intents": (1 << 0) | (1 << 9)})
    await gw.until("GUILD_CREATE")
    fake.inject_message("general", "secret words")
    created = await gw.until("MESSAGE_CREATE")
    assert created["d"]["content"] == ""
    await gw.ws.close()


async def test_resume_replays_what_was_missed_and_unknown_session_is_invalid(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    gw = await _connect(http, fake)
    await gw.recv()
    await gw.send(2, {"token": "test-token", "intents": (1 << 0) | (1 << 9) | (1 << 15)})
    ready = await gw.until("READY")
    guild = await gw.until("GUILD_CREATE")
    fake.drop_gateway()
    closed = await gw.ws.receive(timeout=10)
    assert closed.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}
    assert gw.ws.close_code == 4000
    fake.inject_message("general", "while you were away")
    again = await _connect(http, fake)
    await again.recv()
    await again.send(
        6, {"token": "test-token", "session_id": ready["d"]["session_id"], "seq": guild["s"]}
    )
    missed = await again.until("MESSAGE_CREATE")
    assert missed["d"]["content"] == "while you were away"
    assert (await again.recv())["t"] == "RESUMED"
    await again.ws.close()
    third = await _connect(http, fake)
    await third.recv()
    await third.send(6, {"token": "test-token", "session_id": "nope", "seq": 1})
    invalid = await third.recv()
    assert (invalid["op"], invalid["d"]) == (9, False)
    await third.ws.close()


async def test_posts_are_recorded_deduplicated_and_can_be_rate_limited(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    url = f"{fake.api_base}/channels/{fake.channel_id('general')}/messages"
    fake.fail_next(1, 429, retry_after=0.25)
    body = {
        "content": "@everyone ping",
        "nonce": "abc",
        "enforce_nonce": True,
        "allowed_mentions": {"parse": []},
    }
    async with http.post(url, json=body) as resp:
        assert resp.status == 429
        assert resp.headers["Via"]
        assert (await resp.json())["retry_after"] == 0.25
    async with http.post(url, json=body) as resp:
        first = await resp.json()
    async with http.post(url, json=body) as resp:
        second = await resp.json()
    assert first["id"] == second["id"]
    [post] = fake.posts("general")
    assert post.payload == body
    assert post.allowed_mentions == {"parse": []}
    assert not post.pings.anyone
    assert [a.status for a in fake.state.attempts()] == [429, 200, 200]
    fake.fail_next(1, 403)
    async with http.post(url, json={"content": "x"}) as resp:
        assert resp.status == 403
        assert (await resp.json())["code"] == 50001


async def test_test_api_injects_and_lists_posts(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        f"{fake.base_url}/_test/channels/general/inject", json={"content": "!ping", "author": "zoe"}
    ) as resp:
        injected = await resp.json()
    assert [m.content for m in fake.messages("general")] == ["!ping"]
    assert injected["author"]["username"] == "zoe"
    async with http.post(
        f"{fake.api_base}/channels/{fake.channel_id('general')}/messages", json={"content": "pong"}
    ) as resp:
        assert resp.status == 200
    async with http.get(f"{fake.base_url}/_test/channels/general/posts") as resp:
        posts = await resp.json()
    assert [p["payload"]["content"] for p in posts] == ["pong"]
    async with http.get(f"{fake.base_url}/_test/state") as resp:
        state = await resp.json()
    assert state["api_base"] == fake.api_base


async def test_form_validation_matches_discord(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    url = f"{fake.api_base}/channels/{fake.channel_id('general')}/messages"
    for body in (
        {"content": "x" * 2001},
        {"content": "ok", "nonce": "n" * 26},
        {"content": ""},
    ):
        async with http.post(url, json=body) as resp:
            assert resp.status == 400, body
    async with http.post(url, json={"content": "x" * 2000, "nonce": "n" * 25}) as resp:
        assert resp.status == 200
    assert len(fake.posts("general")) == 1


async def test_an_undecodable_frame_closes_with_4002(
    fake: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    gw = await _connect(http, fake)
    await gw.recv()
    await gw.ws.send_str("this is not json")
    closed = await gw.ws.receive(timeout=10)
    assert closed.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}
    assert gw.ws.close_code == 4002
    await gw.ws.close()
