"""The fake Discord gateway: the websocket a real nextcord client logs in through.

Speaks what nextcord uses of gateway v10: HELLO, IDENTIFY -> READY and one
GUILD_CREATE, heartbeat ACKs, RESUME (with replay of every event the session
missed while disconnected) or INVALID_SESSION, and DISPATCH events for messages.
Frames are zlib-stream compressed when the URL asks for it (``compress=zlib-stream``):
one compressor per connection, each frame ending with a ``Z_SYNC_FLUSH`` marker,
exactly what nextcord's inflater expects.

Intents are honoured the way Discord does for the ones Kelery cares about: no
MESSAGE_CREATE without GUILD_MESSAGES, and empty content without MESSAGE_CONTENT
(except on the bot's own messages) — so a bot missing an intent fails its tests
here as it would in production.

Everything here runs on the server's event loop thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import threading
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from kelery.devkit.fake_discord import payloads
from kelery.devkit.fake_discord.state import FakeDiscordState, Message, User

log = logging.getLogger(__name__)

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

INTENT_GUILDS = 1 << 0
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_MESSAGE_CONTENT = 1 << 15

CLOSE_UNKNOWN_ERROR = 4000
CLOSE_DECODE_ERROR = 4002
CLOSE_AUTHENTICATION_FAILED = 4004
BACKLOG = 5000
"""Events kept per session for RESUME; older ones are gone, as on Discord."""


@dataclass
class _Connection:
    ws: web.WebSocketResponse
    compressor: Any  # zlib.Compress or None
    outbox: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)


@dataclass
class GatewaySession:
    """A logged-in bot's session: survives a dropped connection until resumed or invalidated."""

    id: str
    bot: User
    intents: int
    seq: int = 0
    backlog: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=BACKLOG))
    connection: _Connection | None = None

    def wants(self, event: str) -> bool:
        """Whether this session's intents subscribe it to ``event``."""
        if event.startswith("MESSAGE_"):
            return bool(self.intents & INTENT_GUILD_MESSAGES)
        if event.startswith(("GUILD_", "CHANNEL_")):
            return bool(self.intents & INTENT_GUILDS)
        return True


class Gateway:
    """Sessions, connections and dispatch for the fake gateway websocket."""

    def __init__(self, state: FakeDiscordState, *, heartbeat_interval_ms: int = 41_250) -> None:
        self.state = state
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self._sessions: dict[str, GatewaySession] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self._counts = {"identify": 0, "resume": 0, "invalid": 0}
        self._counted = threading.Condition()

    # -- counters the tests wait on (any thread) ---------------------------------------

    def count(self, what: str) -> int:
        """How many IDENTIFYs, successful RESUMEs or INVALID_SESSIONs happened so far."""
        with self._counted:
            return self._counts[what]

    def wait_count(self, what: str, at_least: int, timeout: float) -> bool:
        """Block until ``count(what) >= at_least``; False on timeout."""
        with self._counted:
            return self._counted.wait_for(lambda: self._counts[what] >= at_least, timeout)

    def _bump(self, what: str) -> None:
        with self._counted:
            self._counts[what] += 1
            self._counted.notify_all()

    @property
    def online(self) -> int:
        """Sessions with a live connection."""
        return sum(1 for s in self._sessions.values() if s.connection is not None)

    # -- the websocket ------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one gateway connection from HELLO to close."""
        ws = web.WebSocketResponse(timeout=2.0, autoping=True, max_msg_size=0)
        await ws.prepare(request)
        compressor = zlib.compressobj() if request.query.get("compress") == "zlib-stream" else None
        connection = _Connection(ws=ws, compressor=compressor)
        self._sockets.add(ws)
        writer = asyncio.create_task(self._write(connection))
        session: GatewaySession | None = None
        resume_url = f"ws://{request.host}/gateway"
        self._send(
            connection, {"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
        )
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(msg.data)
                    op, data = frame.get("op"), frame.get("d")
                except (json.JSONDecodeError, AttributeError):
                    await ws.close(code=CLOSE_DECODE_ERROR, message=b"invalid payload")
                    break
                if op == OP_HEARTBEAT:
                    self._send(connection, {"op": OP_HEARTBEAT_ACK})
                elif op == OP_IDENTIFY:
                    session = await self._identify(connection, data, resume_url)
                elif op == OP_RESUME:
                    session = self._resume(connection, data)
                elif op in {OP_PRESENCE_UPDATE, OP_REQUEST_GUILD_MEMBERS}:
                    continue
                else:
                    log.info("fake gateway: ignoring op %s", op)
        finally:
            if session is not None and session.connection is connection:
                session.connection = None
            self._sockets.discard(ws)
            connection.outbox.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _identify(
        self, connection: _Connection, data: Any, resume_url: str
    ) -> GatewaySession | None:
        token = str((data or {}).get("token") or "")
        if not token:
            await connection.ws.close(code=CLOSE_AUTHENTICATION_FAILED, message=b"no token")
            return None
        bot = self.state.bot_for_token(token)
        session = GatewaySession(
            id=secrets.token_hex(16), bot=bot, intents=int((data or {}).get("intents") or 0)
        )
        self._sessions[session.id] = session
        session.connection = connection
        ready = {
            "v": 10,
            "user": payloads.current_user_json(bot),
            "guilds": [{"id": str(self.state.guild.id), "unavailable": True}],
            "session_id": session.id,
            "resume_gateway_url": resume_url,
            "application": {"id": str(bot.id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "_trace": ["kelery-fake-discord"],
        }
        self._dispatch_to(session, "READY", ready)
        self._dispatch_to(session, "GUILD_CREATE", payloads.guild_json(self.state, bot))
        self._bump("identify")
        return session

    def _resume(self, connection: _Connection, data: Any) -> GatewaySession | None:
        data = data or {}
        session = self._sessions.get(str(data.get("session_id")))
        if session is None or self.state.bot_for_token(str(data.get("token"))) != session.bot:
            self._send(connection, {"op": OP_INVALID_SESSION, "d": False})
            self._bump("invalid")
            return None
        if session.connection is not None and session.connection is not connection:
            self._close_soon(session.connection.ws, CLOSE_UNKNOWN_ERROR)
        session.connection = connection
        after = int(data.get("seq") or 0)
        for frame in session.backlog:
            if frame["s"] > after:
                self._send(connection, frame)
        self._dispatch_to(session, "RESUMED", {"_trace": ["kelery-fake-discord"]})
        self._bump("resume")
        return session

    # -- sending ------------------------------------------------------------------------

    def _send(self, connection: _Connection, frame: dict[str, Any]) -> None:
        frame.setdefault("s", None)
        frame.setdefault("t", None)
        frame.setdefault("d", None)
        connection.outbox.put_nowait(frame)

    async def _write(self, connection: _Connection) -> None:
        while True:
            frame = await connection.outbox.get()
            if frame is None or connection.ws.closed:
                return
            raw = json.dumps(frame, separators=(",", ":")).encode()
            try:
                if connection.compressor is None:
                    await connection.ws.send_str(raw.decode())
                else:
                    chunk = connection.compressor.compress(raw)
                    await connection.ws.send_bytes(
                        chunk + connection.compressor.flush(zlib.Z_SYNC_FLUSH)
                    )
            except (ConnectionError, RuntimeError):
                return

    def _dispatch_to(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
        session.backlog.append(frame)
        if session.connection is not None:
            self._send(session.connection, frame)

    def dispatch_message(self, message: Message) -> None:
        """Send MESSAGE_CREATE for ``message`` to every session subscribed to it."""
        base = payloads.message_json(message, with_guild=True)
        for session in list(self._sessions.values()):
            if not session.wants("MESSAGE_CREATE"):
                continue
            data = dict(base)
            readable = session.intents & INTENT_MESSAGE_CONTENT or message.author == session.bot
            if not readable:
                data.update(content="", embeds=[], attachments=[], components=[])
            self._dispatch_to(session, "MESSAGE_CREATE", data)

    # -- test controls ------------------------------------------------------------------

    def _close_soon(self, ws: web.WebSocketResponse, code: int) -> None:
        task = asyncio.get_running_loop().create_task(ws.close(code=code, message=b"fake drop"))
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    def drop(self, *, invalidate: bool = False) -> int:
        """Close every live connection (code 4000, so clients reconnect); returns how many.

        With ``invalidate`` the sessions are forgotten too, so a RESUME gets
        INVALID_SESSION and the client must IDENTIFY afresh.
        """
        dropped = 0
        for session in list(self._sessions.values()):
            if session.connection is not None:
                self._close_soon(session.connection.ws, CLOSE_UNKNOWN_ERROR)
                session.connection = None
                dropped += 1
        if invalidate:
            self._sessions.clear()
        return dropped

    async def close_all(self) -> None:
        """Close every websocket (server shutdown)."""
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"fake discord stopping")
