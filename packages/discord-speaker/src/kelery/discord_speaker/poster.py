"""Send a planned post through nextcord's HTTP client, and say what a failure means.

nextcord 2.6's ``Messageable.send`` has no ``enforce_nonce``, so the post goes
through nextcord's own ``HTTPClient.request`` with our payload. That keeps what
nextcord does well: the per-route rate-limit buckets, waiting ``retry_after`` on
a 429 and retrying, and retrying 500/502/504.

:func:`classify_failure` sorts what is left into three kinds the speaker acts on:
``rejected`` (Discord will never accept this post: to the DLQ), ``fatal`` (our
token is not valid, or a bug: stop without committing, so nothing is lost),
``transient`` (try the same post again later).
"""

from __future__ import annotations

from typing import Any, Literal

import aiohttp

from kelery.discord_speaker._nextcord import HTTPClient, Route, nextcord
from kelery.discord_speaker.posts import PlannedPost

MESSAGES_PATH = "/channels/{channel_id}/messages"

FailureKind = Literal["rejected", "fatal", "transient"]


async def send_post(http: HTTPClient, post: PlannedPost) -> dict[str, Any]:
    """POST ``post`` to its channel; returns Discord's message object."""
    route = Route("POST", MESSAGES_PATH, channel_id=post.channel_id)
    result: dict[str, Any] = await http.request(route, json=post.payload())
    return result


def classify_failure(exc: BaseException) -> tuple[FailureKind, str]:
    """What ``exc`` from :func:`send_post` means, and a one-line reason for logs and DLQ."""
    if isinstance(exc, nextcord.HTTPException):
        status = int(exc.status)
        reason = f"discord answered {status}: {exc.text or 'no detail'}"
        if exc.code:
            reason += f" (code {exc.code})"
        if status == 401:
            return "fatal", reason
        if status == 429 or status >= 500:
            return "transient", reason
        if 400 <= status < 500:
            return "rejected", reason
        return "transient", reason
    if isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
        return "transient", f"cannot reach discord: {exc!r}"
    return "fatal", f"unexpected error posting: {exc!r}"
