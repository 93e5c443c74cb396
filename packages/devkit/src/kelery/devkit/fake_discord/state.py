"""The fake Discord's world: one guild, its channels, users, messages and recorded posts.

Pure data and rules, no networking, so the REST handlers, the gateway and the
test API (which may run on different threads) all change the world through one
lock-guarded object. Rules that tests rely on live here: snowflake ids, one bot
user per token, Discord's ``enforce_nonce`` de-duplication, and the queue of
injected failures (429/403/404) for the next posts.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kelery.devkit.fake_discord.mentions import Pings, pings_of

DISCORD_EPOCH_MS = 1_420_070_400_000
NONCE_WINDOW_S = 300.0
"""How long a nonce is remembered for ``enforce_nonce`` ("the past few minutes")."""

DEFAULT_CHANNELS = ("general", "random", "announcements")


class NotFoundError(LookupError):
    """An id the fake does not know (answers 404 on the REST API)."""


class SnowflakeFactory:
    """Discord-shaped ids: milliseconds since the Discord epoch, shifted, plus a counter."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def __call__(self) -> int:
        """Return a new, strictly increasing id."""
        with self._lock:
            increment = next(self._counter) & 0xFFF
            return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (1 << 17) | increment


@dataclass(frozen=True)
class User:
    """A Discord user: a person (injected by tests) or a bot (one per token)."""

    id: int
    name: str
    bot: bool = False


@dataclass(frozen=True)
class Channel:
    """A guild text channel."""

    id: int
    name: str
    position: int


@dataclass(frozen=True)
class Guild:
    """The one guild every bot is a member of."""

    id: int
    name: str
    owner_id: int
    created: datetime


@dataclass(frozen=True)
class Message:
    """A message as it exists in a channel (injected by a test or posted by a bot)."""

    id: int
    channel_id: int
    guild_id: int
    author: User
    content: str
    timestamp: datetime
    nonce: str | int | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PostRecord:
    """One bot post that created a message, with the whole request payload.

    ``pings`` is who Discord would have notified given ``content`` and
    ``allowed_mentions``: what a "mentions suppressed" test asserts on.
    """

    message: Message
    payload: Mapping[str, Any]
    pings: Pings

    @property
    def content(self) -> str:
        """The posted text."""
        return self.message.content

    @property
    def nonce(self) -> str | int | None:
        """The nonce the bot sent, if any."""
        return self.message.nonce

    @property
    def allowed_mentions(self) -> Mapping[str, Any] | None:
        """The ``allowed_mentions`` object the bot sent, if any."""
        value = self.payload.get("allowed_mentions")
        return value if isinstance(value, Mapping) else None


@dataclass(frozen=True)
class PostAttempt:
    """Every POST to a channel's messages, answered or failed (for rate-limit tests)."""

    channel_id: int
    status: int
    payload: Mapping[str, Any]
    at: float


@dataclass(frozen=True)
class InjectedFailure:
    """What the next post answers instead of creating a message."""

    status: int
    retry_after: float = 1.0
    channel_id: int | None = None


@dataclass
class _NonceEntry:
    message: Message
    at: float


class FakeDiscordState:
    """The world, guarded by one lock: safe to use from the server loop and test threads."""

    def __init__(
        self, guild_name: str = "Kelery Dev", channels: tuple[str, ...] = DEFAULT_CHANNELS
    ):
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self.snowflake = SnowflakeFactory()
        owner = User(id=self.snowflake(), name="kelery-owner")
        self.guild = Guild(
            id=self.snowflake(), name=guild_name, owner_id=owner.id, created=datetime.now(UTC)
        )
        self._users: dict[int, User] = {owner.id: owner}
        self._people_by_name: dict[str, User] = {owner.name: owner}
        self._bots_by_token: dict[str, User] = {}
        self._channels: dict[int, Channel] = {}
        self._messages: dict[int, list[Message]] = {}
        self._posts: dict[int, list[PostRecord]] = {}
        self._attempts: list[PostAttempt] = []
        self._nonces: dict[tuple[int, str], _NonceEntry] = {}
        self._failures: list[InjectedFailure] = []
        for name in channels:
            self.add_channel(name)

    # -- channels and users -------------------------------------------------------------

    def add_channel(self, name: str) -> Channel:
        """Create a text channel in the guild (visible to bots that identify afterwards)."""
        with self._lock:
            channel = Channel(id=self.snowflake(), name=name, position=len(self._channels))
            self._channels[channel.id] = channel
            self._messages[channel.id] = []
            self._posts[channel.id] = []
            return channel

    @property
    def channels(self) -> list[Channel]:
        """Every channel, in creation order."""
        with self._lock:
            return list(self._channels.values())

    def channel(self, key: int | str) -> Channel:
        """A channel by id or by name; NotFoundError if there is none."""
        with self._lock:
            if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                found = self._channels.get(int(key))
                if found is not None:
                    return found
            for channel in self._channels.values():
                if channel.name == key:
                    return channel
        raise NotFoundError(f"unknown channel {key!r}")

    def person(self, name: str, *, bot: bool = False) -> User:
        """The user called ``name``, created on first use (a stable id per fake)."""
        with self._lock:
            user = self._people_by_name.get(name)
            if user is None:
                user = User(id=self.snowflake(), name=name, bot=bot)
                self._people_by_name[name] = user
                self._users[user.id] = user
            return user

    def bot_for_token(self, token: str) -> User:
        """The bot user a token logs in as: one per distinct token, named from its hash."""
        with self._lock:
            bot = self._bots_by_token.get(token)
            if bot is None:
                digest = hashlib.sha256(token.encode()).hexdigest()[:6]
                bot = User(id=self.snowflake(), name=f"kelery-bot-{digest}", bot=True)
                self._bots_by_token[token] = bot
                self._users[bot.id] = bot
            return bot

    def user(self, user_id: int) -> User:
        """A known user by id; NotFoundError otherwise."""
        with self._lock:
            found = self._users.get(user_id)
        if found is None:
            raise NotFoundError(f"unknown user {user_id}")
        return found

    @property
    def bots(self) -> list[User]:
        """Every bot that has logged in so far."""
        with self._lock:
            return list(self._bots_by_token.values())

    # -- messages -----------------------------------------------------------------------

    def add_message(
        self,
        channel_id: int,
        author: User,
        content: str,
        *,
        nonce: str | int | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> Message:
        """Store a new message in ``channel_id`` (NotFoundError for an unknown channel)."""
        with self._lock:
            channel = self.channel(channel_id)
            message = Message(
                id=self.snowflake(),
                channel_id=channel.id,
                guild_id=self.guild.id,
                author=author,
                content=content,
                timestamp=datetime.now(UTC),
                nonce=nonce,
                payload=dict(payload or {}),
            )
            self._messages[channel.id].append(message)
            self._changed.notify_all()
            return message

    def messages(self, channel_id: int) -> list[Message]:
        """Every message in a channel, oldest first."""
        with self._lock:
            return list(self._messages[self.channel(channel_id).id])

    def message(self, channel_id: int, message_id: int) -> Message:
        """One message of a channel; NotFoundError when absent."""
        for message in self.messages(channel_id):
            if message.id == message_id:
                return message
        raise NotFoundError(f"unknown message {message_id}")

    def post(self, channel_id: int, bot: User, payload: Mapping[str, Any]) -> tuple[Message, bool]:
        """A bot's ``POST /channels/{id}/messages``: returns (message, created).

        With ``enforce_nonce`` and a nonce this bot already used within
        :data:`NONCE_WINDOW_S`, Discord returns the original message and creates
        nothing; so does this (``created`` is False).
        """
        content = str(payload.get("content") or "")
        nonce = payload.get("nonce")
        nonce_value = (
            nonce if isinstance(nonce, str | int) and not isinstance(nonce, bool) else None
        )
        with self._lock:
            now = time.monotonic()
            key = (bot.id, str(nonce_value)) if nonce_value is not None else None
            if key is not None and payload.get("enforce_nonce"):
                entry = self._nonces.get(key)
                if entry is not None and now - entry.at < NONCE_WINDOW_S:
                    return entry.message, False
            message = self.add_message(channel_id, bot, content, nonce=nonce_value, payload=payload)
            if key is not None:
                self._nonces[key] = _NonceEntry(message=message, at=now)
            self._posts[message.channel_id].append(
                PostRecord(message=message, payload=dict(payload), pings=pings_of(content, payload))
            )
            self._changed.notify_all()
            return message, True

    def posts(self, channel_id: int) -> list[PostRecord]:
        """Every post bots made to a channel, oldest first."""
        with self._lock:
            return list(self._posts[self.channel(channel_id).id])

    def record_attempt(self, channel_id: int, status: int, payload: Mapping[str, Any]) -> None:
        """Remember one POST attempt and its answer status."""
        with self._lock:
            self._attempts.append(
                PostAttempt(
                    channel_id=channel_id, status=status, payload=dict(payload), at=time.monotonic()
                )
            )
            self._changed.notify_all()

    def attempts(self, channel_id: int | None = None) -> list[PostAttempt]:
        """Every POST attempt (optionally for one channel), including failed ones."""
        with self._lock:
            return [a for a in self._attempts if channel_id is None or a.channel_id == channel_id]

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds or ``timeout`` passes; True if it held."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout=timeout)

    # -- failure injection --------------------------------------------------------------

    def fail_next(
        self, count: int, status: int, *, retry_after: float = 1.0, channel_id: int | None = None
    ) -> None:
        """Make the next ``count`` message posts (to ``channel_id``, or any) answer ``status``."""
        if status not in {401, 403, 404, 429, 500, 502, 503}:
            raise ValueError(f"status {status} is not a failure the fake can inject")
        with self._lock:
            self._failures.extend(
                InjectedFailure(status=status, retry_after=retry_after, channel_id=channel_id)
                for _ in range(count)
            )

    def take_failure(self, channel_id: int) -> InjectedFailure | None:
        """Pop the first pending failure that applies to a post to ``channel_id``."""
        with self._lock:
            for index, failure in enumerate(self._failures):
                if failure.channel_id is None or failure.channel_id == channel_id:
                    return self._failures.pop(index)
        return None
