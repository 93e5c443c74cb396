"""The names the consumer and the Celery side agree on, so neither hard-codes the other's.

The consumer sends a command to Celery with ``send_task(name, args=command.args,
kwargs={REPLY_TO_KWARG: ReplyTo(...).model_dump()})`` (the help task also gets
:data:`ROUTES_KWARG`); the tasks' base class
takes ``reply_to`` out before the task body runs and publishes the task's result
as a :class:`~kelery.common.schemas.SpeakMessage` to that channel. A plain chat
message (not a command) may be sent to :data:`RECORD_MESSAGE_TASK` with the
whole ChatMessage as JSON-ready dict in ``kwargs["message"]``.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict

REPLY_TO_KWARG: Final = "reply_to"
"""The keyword argument that carries a :class:`ReplyTo` dict to a chat task."""

ROUTES_KWARG: Final = "routes"
"""The keyword argument with which the consumer sends the help task its routing table.

A ``{command: task name}`` dict, so ``!help`` lists what this consumer routes (a
routing file included), not the built-in table the worker knows.
"""

CHAT_TASKS: Final[dict[str, str]] = {
    "ping": "kelery.ping",
    "echo": "kelery.echo",
    "help": "kelery.help",
    "remind": "kelery.remind",
    "stats": "kelery.stats",
}
"""The default routing table: command name -> Celery task name."""

RECORD_MESSAGE_TASK: Final = "kelery.record_message"
"""Counts plain chat messages per channel; ``stats`` reports the counts."""

DEFAULT_QUEUE: Final = "kelery"
"""The Celery queue (and so, on the Kafka transport, the topic) chat tasks go to."""


class ReplyTo(BaseModel):
    """Where a task's answer goes: a Discord channel, and the message it answers."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    channel_id: str | None = None
    in_reply_to: str | None = None
    author_name: str | None = None
