"""The fake Discord REST API v10: the routes nextcord calls to log in, look up and post.

Answers carry ``Content-Type: application/json`` exactly (nextcord parses JSON only
then). A 429 carries what Discord sends (``retry_after`` in the body, ``Retry-After``,
``X-RateLimit-*`` and a ``Via`` header; without ``Via`` nextcord takes a 429 for a
Cloudflare ban and gives up). Every message post is recorded with its whole payload,
and a bot's post is also dispatched on the gateway, as on Discord.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kelery.devkit.fake_discord import payloads
from kelery.devkit.fake_discord.state import FakeDiscordState, Message, NotFoundError, User

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"

_ERRORS = {
    401: (0, "401: Unauthorized"),
    403: (50001, "Missing Access"),
    404: (10003, "Unknown Channel"),
    500: (0, "500: Internal Server Error"),
    502: (0, "502: Bad Gateway"),
    503: (0, "503: Service Unavailable"),
}


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer whose Content-Type is exactly ``application/json`` (no charset)."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def error_response(
    status: int, message: str | None = None, code: int | None = None
) -> web.Response:
    """Discord's error body: ``{"message", "code"}``."""
    default_code, default_message = _ERRORS.get(status, (0, f"{status}"))
    return json_response(
        {"message": message or default_message, "code": default_code if code is None else code},
        status=status,
    )


def rate_limited(retry_after: float) -> web.Response:
    """A per-route 429 exactly as Discord (behind its proxy) answers it."""
    return json_response(
        {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
        status=429,
        headers={
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": str(retry_after),
            "X-RateLimit-Bucket": "fake-channel-messages",
            "X-RateLimit-Scope": "user",
            "Via": "1.1 google",
        },
    )


MAX_CONTENT = 2000
MAX_NONCE = 25


def _form_problem(payload: dict[str, Any]) -> str | None:
    """What Discord's form validation would reject in a message payload, if anything."""
    content = payload.get("content")
    if content is not None and not isinstance(content, str):
        return "content must be a string"
    if isinstance(content, str) and len(content) > MAX_CONTENT:
        return f"content must be {MAX_CONTENT} or fewer in length"
    nonce = payload.get("nonce")
    if isinstance(nonce, str) and len(nonce) > MAX_NONCE:
        return f"nonce must be {MAX_NONCE} or fewer in length"
    if nonce is not None and not isinstance(nonce, str | int):
        return "nonce must be a string or an integer"
    return None


class ApiError(Exception):
    """Raised by a handler to answer a Discord-shaped error (see :func:`api_errors`)."""

    def __init__(self, status: int, message: str | None = None, code: int | None = None) -> None:
        super().__init__(message or str(status))
        self.status, self.message, self.code = status, message, code


@web.middleware
async def api_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn :class:`ApiError` into Discord's JSON error answer."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.code)


class RestApi:
    """Route handlers bound to one fake world; ``on_message`` dispatches new messages."""

    def __init__(self, state: FakeDiscordState, on_message: Callable[[Message], None]) -> None:
        self.state = state
        self.on_message = on_message

    def routes(self) -> list[web.RouteDef]:
        """Every REST route, under ``/api/v10``."""
        p = API_PREFIX
        return [
            web.get(f"{p}/gateway", self.gateway),
            web.get(f"{p}/gateway/bot", self.gateway_bot),
            web.get(f"{p}/users/@me", self.me),
            web.get(f"{p}/users/{{user_id}}", self.user),
            web.get(f"{p}/oauth2/applications/@me", self.application),
            web.get(f"{p}/applications/{{app_id}}/commands", self.empty_list),
            web.put(f"{p}/applications/{{app_id}}/commands", self.echo_list),
            web.get(f"{p}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self.empty_list),
            web.put(f"{p}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self.echo_list),
            web.get(f"{p}/guilds/{{guild_id}}", self.guild),
            web.get(f"{p}/guilds/{{guild_id}}/channels", self.guild_channels),
            web.get(f"{p}/channels/{{channel_id}}", self.channel),
            web.get(f"{p}/channels/{{channel_id}}/messages", self.history),
            web.get(f"{p}/channels/{{channel_id}}/messages/{{message_id}}", self.message),
            web.post(f"{p}/channels/{{channel_id}}/messages", self.create_message),
            web.post(f"{p}/channels/{{channel_id}}/typing", self.no_content),
            web.route("*", p + "/{tail:.*}", self.unknown),
        ]

    def _bot(self, request: web.Request) -> User | None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bot ").strip()
        return self.state.bot_for_token(token) if header.startswith("Bot ") and token else None

    def _authorised(self, request: web.Request) -> User:
        bot = self._bot(request)
        if bot is None:
            raise ApiError(401)
        return bot

    @staticmethod
    def _int(request: web.Request, name: str) -> int:
        value = request.match_info[name]
        if not value.isdigit():
            raise ApiError(404, "404: Not Found", 0)
        return int(value)

    async def gateway(self, request: web.Request) -> web.Response:
        """``GET /gateway``: where the websocket is."""
        return json_response({"url": f"ws://{request.host}/gateway"})

    async def gateway_bot(self, request: web.Request) -> web.Response:
        """``GET /gateway/bot``: the websocket plus sharding advice."""
        self._authorised(request)
        return json_response(
            {
                "url": f"ws://{request.host}/gateway",
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 86_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    async def me(self, request: web.Request) -> web.Response:
        """``GET /users/@me``: the bot the token logs in as (401 without a token)."""
        return json_response(payloads.current_user_json(self._authorised(request)))

    async def user(self, request: web.Request) -> web.Response:
        """``GET /users/{id}``."""
        self._authorised(request)
        try:
            return json_response(payloads.user_json(self.state.user(self._int(request, "user_id"))))
        except NotFoundError:
            return error_response(404, "Unknown User", 10013)

    async def application(self, request: web.Request) -> web.Response:
        """``GET /oauth2/applications/@me``: the bot's application."""
        bot = self._authorised(request)
        return json_response(
            {
                "id": str(bot.id),
                "name": bot.name,
                "icon": None,
                "description": "",
                "bot_public": False,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "flags": 0,
                "owner": payloads.user_json(self.state.user(self.state.guild.owner_id)),
            }
        )

    async def empty_list(self, request: web.Request) -> web.Response:
        """Application commands: none registered."""
        self._authorised(request)
        return json_response([])

    async def echo_list(self, request: web.Request) -> web.Response:
        """Bulk overwrite of application commands: accepted as sent."""
        self._authorised(request)
        body = await request.json() if request.can_read_body else []
        return json_response(body if isinstance(body, list) else [])

    async def no_content(self, request: web.Request) -> web.Response:
        """Typing indicators and other fire-and-forget calls."""
        self._authorised(request)
        return web.Response(status=204)

    async def guild(self, request: web.Request) -> web.Response:
        """``GET /guilds/{id}``."""
        bot = self._authorised(request)
        if self._int(request, "guild_id") != self.state.guild.id:
            return error_response(404, "Unknown Guild", 10004)
        data = payloads.guild_json(self.state, bot)
        for live_only in ("members", "channels", "threads", "presences", "voice_states"):
            data.pop(live_only, None)
        return json_response(data)

    async def guild_channels(self, request: web.Request) -> web.Response:
        """``GET /guilds/{id}/channels``."""
        self._authorised(request)
        if self._int(request, "guild_id") != self.state.guild.id:
            return error_response(404, "Unknown Guild", 10004)
        guild = self.state.guild
        return json_response([payloads.channel_json(c, guild) for c in self.state.channels])

    async def channel(self, request: web.Request) -> web.Response:
        """``GET /channels/{id}``."""
        self._authorised(request)
        try:
            channel = self.state.channel(self._int(request, "channel_id"))
        except NotFoundError:
            return error_response(404)
        return json_response(payloads.channel_json(channel, self.state.guild))

    async def history(self, request: web.Request) -> web.Response:
        """``GET /channels/{id}/messages``: newest first, ``limit`` honoured."""
        self._authorised(request)
        try:
            messages = self.state.messages(self._int(request, "channel_id"))
        except NotFoundError:
            return error_response(404)
        limit = min(100, max(1, int(request.query.get("limit", "50"))))
        newest = list(reversed(messages))[:limit]
        return json_response([payloads.message_json(m, with_guild=False) for m in newest])

    async def message(self, request: web.Request) -> web.Response:
        """``GET /channels/{id}/messages/{message_id}``."""
        self._authorised(request)
        try:
            found = self.state.message(
                self._int(request, "channel_id"), self._int(request, "message_id")
            )
        except NotFoundError:
            return error_response(404, "Unknown Message", 10008)
        return json_response(payloads.message_json(found, with_guild=False))

    async def create_message(self, request: web.Request) -> web.Response:
        """``POST /channels/{id}/messages``: record, de-duplicate by nonce, dispatch."""
        bot = self._authorised(request)
        channel_id = self._int(request, "channel_id")
        try:
            payload = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            self.state.record_attempt(channel_id, 400, {})
            return error_response(400, "400: Bad Request (fake Discord takes JSON only)", 50109)
        if not isinstance(payload, dict):
            self.state.record_attempt(channel_id, 400, {})
            return error_response(400, "Invalid Form Body", 50035)
        failure = self.state.take_failure(channel_id)
        if failure is not None:
            self.state.record_attempt(channel_id, failure.status, payload)
            if failure.status == 429:
                return rate_limited(failure.retry_after)
            return error_response(failure.status)
        content = payload.get("content")
        if not content and not payload.get("embeds"):
            self.state.record_attempt(channel_id, 400, payload)
            return error_response(400, "Cannot send an empty message", 50006)
        problem = _form_problem(payload)
        if problem is not None:
            self.state.record_attempt(channel_id, 400, payload)
            return error_response(400, f"Invalid Form Body: {problem}", 50035)
        try:
            message, created = self.state.post(channel_id, bot, payload)
        except NotFoundError:
            self.state.record_attempt(channel_id, 404, payload)
            return error_response(404)
        self.state.record_attempt(channel_id, 200, payload)
        if created:
            self.on_message(message)
        return json_response(payloads.message_json(message, with_guild=False))

    async def unknown(self, request: web.Request) -> web.Response:
        """Anything else: 404, logged so a missing route is easy to spot."""
        log.warning("fake discord: no route for %s %s", request.method, request.path)
        return error_response(404, "404: Not Found", 0)
