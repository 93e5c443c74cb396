"""Errors the chat tasks raise on purpose."""

from __future__ import annotations

from kelery.common.errors import KeleryError


class ChatInputError(KeleryError):
    """The person's command was wrong (bad duration, missing text).

    Its message is written for the person and is published as the answer with
    ``status="error"``; it is not a bug, so it is logged without a traceback.
    """
