"""A beat scheduler that fires only while it is the elected leader.

``celery -A kelery.tasks.app beat`` uses :class:`LeaderScheduler` (the app sets
``beat_scheduler``), so any number of beat processes may run for safety and
exactly one sends the periodic tasks; see :mod:`kelery.tasks.leader` for the
election and the takeover bound.

A follower keeps ticking without sending anything. When it becomes leader it
fires, once, each entry that fell due meanwhile (Celery's own catch-up rule),
then follows the schedule: a takeover may repeat one digest, it never skips
one silently. The schedule is held in memory (no shelve file), so two beats
may share a working directory.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from celery.beat import Scheduler

from kelery.tasks.context import context_of
from kelery.tasks.leader import LeaderElection

FOLLOWER_TICK_S = 0.5


class LeaderScheduler(Scheduler):
    """Celery's in-memory scheduler, gated by a Kafka consumer-group election."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.election: LeaderElection | None = None
        super().__init__(*args, **kwargs)
        if not kwargs.get("lazy", False):
            settings = context_of(self.app).settings
            self.election = LeaderElection(
                settings.kafka,
                topic=settings.beat_leader_topic,
                group_id=settings.beat_leader_group,
                session_timeout_ms=settings.beat_session_timeout_ms,
                member_name=f"{socket.gethostname()}-{os.getpid()}",
            )
            self.election.start()

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Fire due entries while leader; otherwise just wait a little."""
        if self.election is None or not self.election.is_leader:
            return min(FOLLOWER_TICK_S, float(self.max_interval or FOLLOWER_TICK_S))
        return float(super().tick(*args, **kwargs))

    def close(self) -> None:
        """Leave the group so another beat takes over at once, then close as usual."""
        if self.election is not None:
            self.election.stop()
            self.election = None
        super().close()

    @property
    def info(self) -> str:
        """The line ``celery beat`` prints about its scheduler."""
        election = context_of(self.app).settings
        return (
            f"    . leader election -> group {election.beat_leader_group} "
            f"on topic {election.beat_leader_topic}"
        )
