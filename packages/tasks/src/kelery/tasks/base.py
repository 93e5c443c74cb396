"""The base class of every Kelery task: answers go to the speak topic, once, here.

The consumer sends each command with a ``reply_to`` keyword argument (see
:mod:`kelery.common.contracts`). :class:`ChatTask` takes it out before the task
body runs, so task functions only see the command's own arguments, and
publishes the outcome as a :class:`~kelery.common.schemas.SpeakMessage`:
the return value with ``status="ok"``, a raised exception (after retries)
with ``status="error"``. Tasks without a ``reply_to`` (beat's) answer to the
announcement channel. A task that has nothing to say sets ``speaks = False``.

The answer is confirmed by Kafka before the handler returns, because tasks are
acked late: returning means "acked", and an answer still in flight would be lost
with it. When Kafka does not take the answer, the handler raises
:class:`~celery.exceptions.Reject` (the only exception Celery 5.7 lets out of
``on_success``; any other is logged and the message acked): with ``requeue=True``
the task message is published again and the task re-runs, with ``requeue=False``
(an answer Kafka will never take, such as one too large for the topic) the Kafka
transport dead-letters it with the reason instead of looping forever.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

from celery import Task
from celery.exceptions import Reject

from kelery.common.contracts import REPLY_TO_KWARG
from kelery.tasks.context import context_of
from kelery.tasks.errors import ChatInputError
from kelery.tasks.publisher import DeliveryFailedError
from kelery.tasks.replies import error_message, reply_to_from, success_message

if TYPE_CHECKING:
    from billiard.einfo import ExceptionInfo

    from kelery.common.schemas import SpeakMessage
    from kelery.tasks.context import TasksContext

log = logging.getLogger(__name__)


class ChatTask(Task):  # type: ignore[type-arg]
    """A Celery task whose result (or error) is published to the speak topic."""

    speaks: ClassVar[bool] = True
    throws = (ChatInputError,)  # a person's mistake: logged without a traceback
    typing = False  # ``reply_to`` is accepted by every task, though no body declares it

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the body without ``reply_to`` (it stays in ``self.request.kwargs``)."""
        kwargs.pop(REPLY_TO_KWARG, None)
        return super().__call__(*args, **kwargs)

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        """Publish the result as the answer."""
        if not self.speaks:
            return
        context = context_of(self.app)
        message = success_message(
            retval,
            task_id=task_id,
            reply_to=reply_to_from(kwargs),
            default_channel=context.settings.announcement_channel,
        )
        _publish_confirmed(message, context)

    def on_failure(
        self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: ExceptionInfo
    ) -> None:
        """Publish the error as the answer, so the person is never left waiting."""
        if not self.speaks:
            return
        context = context_of(self.app)
        message = error_message(
            exc,
            task_name=self.name,
            task_id=task_id,
            reply_to=reply_to_from(kwargs),
            default_channel=context.settings.announcement_channel,
        )
        _publish_confirmed(message, context)


def _publish_confirmed(message: SpeakMessage, context: TasksContext) -> None:
    """Publish the answer and wait for Kafka; Reject (so no ack) when it is not taken."""
    try:
        context.producer.publish_speak(message, context.settings.speak_topic)
    except DeliveryFailedError as exc:
        # Celery does not log a Reject from a pool process: say why the task goes back.
        outcome = "requeued" if exc.retriable else "dead-lettered"
        log.error("answer not delivered, task %s: %s", outcome, exc)  # noqa: TRY400
        raise Reject(f"answer not delivered: {exc}", requeue=exc.retriable) from exc
