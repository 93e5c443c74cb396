"""Turn a task's outcome into the SpeakMessage that answers the channel that asked.

Pure functions, so what a person sees for a success, a mistake of theirs and a
bug of ours is decided (and tested) in one place. The task base class
(:mod:`kelery.tasks.base`) calls them for every task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from kelery.common.contracts import REPLY_TO_KWARG, ReplyTo
from kelery.common.redaction import redact
from kelery.common.schemas import DISCORD_MESSAGE_LIMIT, SpeakMessage
from kelery.tasks.errors import ChatInputError

_ELLIPSIS = "…"
MAX_ERROR_DETAIL = 300


def reply_to_from(kwargs: Mapping[str, Any] | None) -> ReplyTo | None:
    """The ReplyTo a task was sent with, or None (beat's tasks, malformed values)."""
    raw = (kwargs or {}).get(REPLY_TO_KWARG)
    if raw is None:
        return None
    if isinstance(raw, ReplyTo):
        return raw
    try:
        return ReplyTo.model_validate(raw)
    except ValidationError:
        return None


def fit_for_discord(text: str, limit: int = DISCORD_MESSAGE_LIMIT) -> str:
    """Shorten ``text`` to ``limit`` characters, marking the cut; never return empty."""
    text = text if text.strip() else "(empty)"
    return text if len(text) <= limit else text[: limit - len(_ELLIPSIS)] + _ELLIPSIS


def success_message(
    result: Any, *, task_id: str, reply_to: ReplyTo | None, default_channel: str | None
) -> SpeakMessage:
    """The answer for a task that returned ``result``."""
    return SpeakMessage(
        content=fit_for_discord(str(result)),
        channel_id=_channel(reply_to, default_channel),
        in_reply_to=reply_to.in_reply_to if reply_to else None,
        task_id=task_id,
        status="ok",
    )


def error_text(exc: BaseException, task_name: str) -> str:
    """What the person reads when a task failed: their mistake verbatim, our bug briefly."""
    if isinstance(exc, ChatInputError):
        return str(exc)
    detail = redact(str(exc))
    if len(detail) > MAX_ERROR_DETAIL:
        detail = detail[: MAX_ERROR_DETAIL - 1] + _ELLIPSIS
    kind = type(exc).__name__
    return f"{task_name} failed: {kind}: {detail}" if detail else f"{task_name} failed: {kind}"


def error_message(
    exc: BaseException,
    *,
    task_name: str,
    task_id: str,
    reply_to: ReplyTo | None,
    default_channel: str | None,
) -> SpeakMessage:
    """The answer for a task that raised ``exc`` (after its retries, if any)."""
    return SpeakMessage(
        content=fit_for_discord(error_text(exc, task_name)),
        channel_id=_channel(reply_to, default_channel),
        in_reply_to=reply_to.in_reply_to if reply_to else None,
        task_id=task_id,
        status="error",
    )


def _channel(reply_to: ReplyTo | None, default_channel: str | None) -> str | None:
    if reply_to is not None and reply_to.channel_id:
        return reply_to.channel_id
    return default_channel
