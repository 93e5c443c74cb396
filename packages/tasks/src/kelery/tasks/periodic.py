"""The tasks beat runs by default: the stats digest and the heartbeat.

They have no ``reply_to``, so the base class sends their answers to the
announcement channel (``ANNOUNCEMENT_CHANNEL_ID``).
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

from celery import shared_task

from kelery.tasks.base import ChatTask
from kelery.tasks.chat_texts import stats_text
from kelery.tasks.context import context_of

HEARTBEAT_TASK = "kelery.heartbeat"
STATS_DIGEST_TASK = "kelery.stats_digest"


@shared_task(name=HEARTBEAT_TASK, base=ChatTask)
def heartbeat() -> str:
    """Say that the workers are alive, and which one answered."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"💓 Kelery is up ({socket.gethostname()} pid {os.getpid()}, {now})"


@shared_task(name=STATS_DIGEST_TASK, base=ChatTask, bind=True)
def stats_digest(self: ChatTask) -> str:
    """The periodic summary of messages per channel."""
    return "📊 Digest: " + stats_text(context_of(self.app).counts.read())
