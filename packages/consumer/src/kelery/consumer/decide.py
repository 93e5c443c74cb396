"""What to do with one record, decided without touching Kafka or Celery.

:class:`Decider` turns a record value into exactly one :class:`Decision`:

- :class:`SendTask`: a routed command (or a plain message, when a plain-message
  task is configured) becomes a Celery task sent by name;
- :class:`Reply`: a command that is not in the routing table is answered on the
  speak topic, not dead-lettered: a person mistyped, nothing is broken;
- :class:`DeadLetter`: bytes that are not UTF-8, not JSON or not a ChatMessage go
  to the DLQ with the reason;
- :class:`Ignore`: plain chat with no plain-message task.

Being pure makes it cheap to property-test: no input may make it raise.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from kelery.common.contracts import CHAT_TASKS, REPLY_TO_KWARG, ROUTES_KWARG, ReplyTo
from kelery.common.errors import InvalidMessageError
from kelery.common.schemas import ChatMessage, SpeakMessage, decode_chat_message, parse_command
from kelery.consumer.routing import RoutingTable

log = logging.getLogger(__name__)

HELP_TASK = CHAT_TASKS["help"]
"""The task that lists the commands: whichever command routes to it gets the table."""

PLAIN_MESSAGE_KWARG = "message"
"""The keyword argument that carries a plain ChatMessage (as a JSON-ready dict)."""

REPLY_UUID_NAMESPACE = uuid.UUID("6b3f1c2e-8a4d-5e7f-9b10-2c3d4e5f6a7b")
"""uuid5 namespace of unknown-command replies: a reply's uuid is a function of its input."""


def reply_uuid(identity: str) -> str:
    """The uuid of the reply to the input identified by ``identity``.

    Deterministic on purpose: a record replayed after a crash (consumed, replied,
    not yet committed) yields the same reply uuid, so the speaker's nonce
    de-duplication recognises the second copy instead of posting it twice.
    """
    return str(uuid.uuid5(REPLY_UUID_NAMESPACE, identity))


def _record_identity(value: bytes | str | None) -> str | None:
    """A stable identity for a record that carried no uuid: a digest of its bytes."""
    if value is None:
        return None
    raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    return "sha256:" + hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class SendTask:
    """Publish Celery task ``task`` with ``args``/``kwargs`` to ``queue`` (None: default)."""

    task: str
    args: tuple[str, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    command: str | None = None

    def describe(self) -> str:
        """One line for logs and ``--dry-run``."""
        via = f"!{self.command} -> " if self.command else "plain -> "
        return f"send {via}{self.task} args={list(self.args)!r} queue={self.queue or 'default'}"


@dataclass(frozen=True, slots=True)
class Reply:
    """Post ``message`` to the speak topic (an unknown command's answer)."""

    message: SpeakMessage

    def describe(self) -> str:
        """One line for logs and ``--dry-run``."""
        channel = self.message.channel_id or "announcement"
        return f"reply to channel {channel}: {self.message.content}"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Copy the record to the DLQ topic because of ``reason``."""

    reason: str

    def describe(self) -> str:
        """One line for logs and ``--dry-run``."""
        return f"dead-letter: {self.reason}"


@dataclass(frozen=True, slots=True)
class Ignore:
    """Nothing to do (plain chat and no plain-message task)."""

    reason: str

    def describe(self) -> str:
        """One line for logs and ``--dry-run``."""
        return f"ignore: {self.reason}"


Decision = SendTask | Reply | DeadLetter | Ignore


@dataclass(frozen=True)
class Decider:
    """Decides records with one routing table, command prefix and plain-message task."""

    routing: RoutingTable
    prefix: str = "!"
    plain_message_task: str | None = None
    default_queue: str | None = None

    def decide(self, value: bytes | str | None) -> Decision:
        """The decision for one record value; never raises.

        An unexpected error (a bug, not bad input) is logged with its traceback and
        dead-lettered, so one poisonous record cannot stop the whole consumer.
        """
        try:
            return self.decide_strict(value)
        except Exception as exc:
            log.exception("unexpected error deciding a record; dead-lettering it")
            return DeadLetter(f"internal error: {type(exc).__name__}: {exc}")

    def decide_strict(self, value: bytes | str | None) -> Decision:
        """Like :meth:`decide`, but lets unexpected errors out (for tests to catch them)."""
        try:
            message = decode_chat_message(value)
        except InvalidMessageError as exc:
            return DeadLetter(str(exc))
        return self.decide_message(message, record_identity=_record_identity(value))

    def decide_message(
        self, message: ChatMessage, *, record_identity: str | None = None
    ) -> Decision:
        """The decision for an already-validated chat message.

        ``record_identity`` names the record when it carried no uuid of its own (its
        parsed uuid is then random), so that a replay still gets the same reply uuid.
        """
        command = parse_command(message.content, self.prefix)
        if command is None:
            if self.plain_message_task is None:
                return Ignore("plain message")
            payload = message.model_dump(mode="json", by_alias=True, exclude_none=True)
            return SendTask(
                self.plain_message_task,
                kwargs={PLAIN_MESSAGE_KWARG: payload},
                queue=self.default_queue,
            )
        reply_to = ReplyTo(
            channel_id=message.channel_id,
            in_reply_to=message.uuid,
            author_name=message.author_name,
        )
        route = self.routing.get(command.name)
        if route is None:
            identity = message.uuid
            if "uuid" not in message.model_fields_set and record_identity is not None:
                identity = record_identity
            return Reply(
                SpeakMessage(
                    uuid=reply_uuid(identity),
                    content=f"unknown command {self.prefix}{command.name} — try {self.prefix}help",
                    channel_id=reply_to.channel_id,
                    in_reply_to=reply_to.in_reply_to,
                    status="info",
                )
            )
        kwargs: dict[str, Any] = {REPLY_TO_KWARG: reply_to.model_dump()}
        if route.task == HELP_TASK:
            kwargs[ROUTES_KWARG] = self.routing.task_names()
        return SendTask(
            route.task,
            args=command.args,
            kwargs=kwargs,
            queue=route.queue or self.default_queue,
            command=command.name,
        )
