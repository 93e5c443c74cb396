"""The fake Discord's HTTP test API (``/_test/...``), for a fake running as its own process.

The same controls as :class:`~kelery.devkit.fake_discord.control.FakeDiscord`, over
HTTP, so the quickstart, a shell or a test in another process can inject a message
and read what the bots posted::

    curl -X POST localhost:8700/_test/channels/general/inject -d '{"content": "!ping"}'
    curl localhost:8700/_test/channels/general/posts
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from kelery.devkit.fake_discord import payloads
from kelery.devkit.fake_discord.control import FakeDiscord
from kelery.devkit.fake_discord.rest import error_response, json_response
from kelery.devkit.fake_discord.state import NotFoundError, PostRecord

TEST_PREFIX = "/_test"


def post_json(record: PostRecord) -> dict[str, Any]:
    """A recorded post: the created message, the request payload, and who it pinged."""
    return {
        "message": payloads.message_json(record.message, with_guild=True),
        "payload": dict(record.payload),
        "pings": {
            "everyone": record.pings.everyone,
            "users": sorted(str(u) for u in record.pings.users),
            "roles": sorted(str(r) for r in record.pings.roles),
        },
    }


class TestApi:
    """Handlers for ``/_test``; every body and answer is JSON."""

    __test__ = False  # not a pytest class, despite the name

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def routes(self) -> list[web.RouteDef]:
        """The test API's routes."""
        t = TEST_PREFIX
        return [
            web.get(f"{t}/state", self.describe),
            web.post(f"{t}/channels/{{channel}}/inject", self.inject),
            web.get(f"{t}/channels/{{channel}}/posts", self.posts),
            web.post(f"{t}/fail", self.fail),
            web.post(f"{t}/gateway/drop", self.drop),
        ]

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            body = await request.json()
        except json.JSONDecodeError as exc:
            raise web.HTTPBadRequest(text=f"body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="body must be a JSON object")
        return body

    async def describe(self, request: web.Request) -> web.Response:
        """``GET /_test/state``: URLs, guild, channels, logged-in bots."""
        fake = self.fake
        return json_response(
            {
                "api_base": fake.api_base,
                "gateway_url": fake.gateway_url,
                "guild_id": str(fake.guild_id),
                "channels": {c.name: str(c.id) for c in fake.channels},
                "bots": [payloads.user_json(bot) for bot in fake.bots],
                "gateway": {w: fake.connections(w) for w in ("identify", "resume", "invalid")},
            }
        )

    async def inject(self, request: web.Request) -> web.Response:
        """``POST /_test/channels/{id or name}/inject`` with ``{"content", "author"?, "bot"?}``."""
        body = await self._body(request)
        content = body.get("content")
        if not isinstance(content, str) or not content:
            return error_response(400, "content (a non-empty string) is required", 50006)
        try:
            message = self.fake.inject_message(
                request.match_info["channel"],
                content,
                author=str(body.get("author") or "alice"),
                bot=bool(body.get("bot", False)),
            )
        except NotFoundError as exc:
            return error_response(404, str(exc))
        return json_response(payloads.message_json(message, with_guild=True))

    async def posts(self, request: web.Request) -> web.Response:
        """``GET /_test/channels/{id or name}/posts``: what bots posted there."""
        try:
            records = self.fake.posts(request.match_info["channel"])
        except NotFoundError as exc:
            return error_response(404, str(exc))
        return json_response([post_json(r) for r in records])

    async def fail(self, request: web.Request) -> web.Response:
        """``POST /_test/fail`` with ``{"count", "status", "retry_after"?, "channel"?}``."""
        body = await self._body(request)
        try:
            self.fake.fail_next(
                int(body.get("count", 1)),
                int(body["status"]),
                retry_after=float(body.get("retry_after", 1.0)),
                channel_id=body.get("channel"),
            )
        except (KeyError, ValueError, NotFoundError) as exc:
            return error_response(400, f"bad failure request: {exc}")
        return json_response({"ok": True})

    async def drop(self, request: web.Request) -> web.Response:
        """``POST /_test/gateway/drop`` with ``{"invalidate"?: bool}``."""
        body = await self._body(request)
        self.fake.drop_gateway(invalidate=bool(body.get("invalidate", False)))
        return json_response({"ok": True})
