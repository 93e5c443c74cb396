"""The chat tasks behind ``!ping``, ``!echo``, ``!help``, ``!remind``, ``!stats``.

Names come from :data:`kelery.common.contracts.CHAT_TASKS`; arguments are the
command's words as positional strings. Each returns the text of its answer and
the base class (:class:`~kelery.tasks.base.ChatTask`) publishes it, so no task
here touches Kafka for its reply.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.exceptions import Reject

from kelery.common.contracts import CHAT_TASKS, RECORD_MESSAGE_TASK, REPLY_TO_KWARG
from kelery.tasks.base import ChatTask
from kelery.tasks.chat_texts import help_text, stats_text
from kelery.tasks.context import context_of
from kelery.tasks.durations import format_duration, parse_duration
from kelery.tasks.errors import ChatInputError
from kelery.tasks.replies import reply_to_from
from kelery.tasks.transport import TRANSPORT_PATH, confirm_published
from kelery.tasks.transport.options import load_options

REMIND_DUE_TASK = "kelery.remind_due"


class _SilentTask(ChatTask):
    """A task that records and does not answer."""

    speaks = False


@shared_task(name=CHAT_TASKS["ping"], base=ChatTask)
def ping(*_args: str) -> str:
    """Answer ``pong``: proof that the whole path works."""
    return "pong"


@shared_task(name=CHAT_TASKS["echo"], base=ChatTask)
def echo(*words: str) -> str:
    """Say the words back."""
    if not words:
        raise ChatInputError("usage: !echo <text>")
    return " ".join(words)


@shared_task(name=CHAT_TASKS["help"], base=ChatTask, bind=True)
def help_(self: ChatTask, *_args: str, routes: dict[str, str] | None = None) -> str:
    """List the commands and the tasks they run.

    ``routes`` is the routing table of the consumer that routed ``!help`` (its
    routing file included); without it (an older consumer, a direct call) the
    built-in table.
    """
    table = routes if isinstance(routes, dict) and routes else CHAT_TASKS
    return help_text(table, context_of(self.app).settings.command_prefix)


@shared_task(name=CHAT_TASKS["remind"], base=ChatTask, bind=True)
def remind(self: ChatTask, duration: str = "", *words: str) -> str:
    """Schedule the reminder with a countdown and confirm it now.

    The ``remind_due`` message is confirmed by the broker before the task says
    "OK": the task is acked once it returns, so a reminder still in flight would
    otherwise be lost with nobody told.
    """
    if not duration or not words:
        raise ChatInputError("usage: !remind <duration> <text>, e.g. !remind 10m stretch")
    settings = context_of(self.app).settings
    delay = parse_duration(duration, maximum=settings.remind_max)
    text = " ".join(words)
    reply_to = (self.request.kwargs or {}).get(REPLY_TO_KWARG)
    # Through this task's app (not the current one), whose broker _confirm_published checks.
    self.app.tasks[REMIND_DUE_TASK].apply_async(
        args=(text,),
        kwargs={REPLY_TO_KWARG: reply_to} if reply_to is not None else {},
        countdown=delay.total_seconds(),
        queue=settings.task_queue,
    )
    _confirm_published(self)
    return f"OK, I will remind you in {format_duration(delay)}: {text}"


def _confirm_published(task: ChatTask) -> None:
    """On Kelery's Kafka transport, wait until Kafka took what this process published.

    Raises the transport's PublishError if it refused it (the task then fails and
    its error is the answer). Other brokers confirm as their transport does.
    """
    conf = task.app.conf
    if conf.broker_transport != TRANSPORT_PATH:
        return
    options = load_options(dict(conf.broker_transport_options or {}))
    confirm_published(options.confirm_timeout)


@shared_task(name=REMIND_DUE_TASK, base=ChatTask, bind=True)
def remind_due(self: ChatTask, text: str) -> str:
    """The reminder itself, run when the countdown ends."""
    reply_to = reply_to_from(self.request.kwargs)
    who = f"{reply_to.author_name}, " if reply_to and reply_to.author_name else ""
    return f"⏰ {who}reminder: {text}"


@shared_task(name=CHAT_TASKS["stats"], base=ChatTask, bind=True)
def stats(self: ChatTask, *_args: str) -> str:
    """Messages counted per channel, busiest first."""
    reply_to = reply_to_from(self.request.kwargs)
    counts = context_of(self.app).counts.read()
    return stats_text(counts, asking_channel=reply_to.channel_id if reply_to else None)


@shared_task(name=RECORD_MESSAGE_TASK, base=_SilentTask, bind=True)
def record_message(self: ChatTask, *_args: str, message: dict[str, Any]) -> None:
    """Count one plain chat message for its channel (idempotent per message uuid).

    A message without a uuid cannot be counted exactly once; it is rejected
    without requeue, which the Kafka transport turns into a dead-letter record.
    """
    uuid, channel = message.get("uuid"), message.get("channel_id")
    if not isinstance(uuid, str) or not uuid:
        raise Reject("message has no uuid; cannot count it exactly once", requeue=False)
    context_of(self.app).counts.record(None if channel is None else str(channel), uuid)
