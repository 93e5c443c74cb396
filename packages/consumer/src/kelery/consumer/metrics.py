"""Counters of what the consumer did, the periodic summary line, optional Prometheus.

The loop and the dispatcher bump plain integers in :class:`ConsumerStats` (cheap
enough for every record); the summary logger and the Prometheus collector read
them when asked, so metrics cost nothing per record beyond an increment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class ConsumerStats:
    """Running totals since start."""

    records: int = 0
    tasks_sent: int = 0
    replies: int = 0
    dead_lettered: int = 0
    ignored: int = 0
    publish_retries: int = 0
    commits: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name (for summaries and tests)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def line(self, lag: int | None = None) -> str:
        """The one-line summary a person reads in the log."""
        lag_text = "?" if lag is None else str(lag)
        return (
            f"records={self.records} tasks_sent={self.tasks_sent} replies={self.replies} "
            f"dlq={self.dead_lettered} ignored={self.ignored} "
            f"publish_retries={self.publish_retries} lag={lag_text}"
        )


class SummaryReporter:
    """Logs :meth:`ConsumerStats.line` at info level every ``interval`` seconds."""

    def __init__(
        self,
        stats: ConsumerStats,
        interval: float,
        lag: Callable[[], int | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stats = stats
        self._interval = interval
        self._lag = lag
        self._clock = clock
        self._next = clock() + interval

    def maybe_report(self) -> bool:
        """Log a summary if one is due; True if it did."""
        now = self._clock()
        if now < self._next:
            return False
        self._next = now + self._interval
        self.report()
        return True

    def report(self, prefix: str = "summary") -> None:
        """Log a summary now."""
        log.info("%s: %s", prefix, self._stats.line(self._lag()))


class _StatsCollector:
    """A Prometheus collector that reads :class:`ConsumerStats` at scrape time."""

    def __init__(self, stats: ConsumerStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily  # noqa: PLC0415 - optional

        for name, value in self._stats.as_dict().items():
            yield CounterMetricFamily(
                f"kelery_consumer_{name}", f"kelery-consume {name.replace('_', ' ')}", value=value
            )


def serve_metrics(stats: ConsumerStats, port: int, addr: str = "0.0.0.0") -> Callable[[], None]:  # noqa: S104
    """Serve ``stats`` as Prometheus counters on ``addr:port``; return a stop function."""
    from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatsCollector(stats))
    server, thread = start_http_server(port, addr=addr, registry=registry)
    log.info("Prometheus metrics on http://%s:%d/metrics", addr, port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
