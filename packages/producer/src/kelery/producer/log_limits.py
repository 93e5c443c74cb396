"""Keep a failure flood from burying the summary.

When the cluster goes away mid-run, every queued record fails with the same
error; logging each of 200,000 of them helps no one and slows the drain. The
first few are logged, then one line says the rest are only counted (the exit
summary gives the total).
"""

from __future__ import annotations

import logging

DELIVERY_LOGGER = "kelery.common.delivery"


class FirstN(logging.Filter):
    """Pass the first ``limit`` records, then one notice, then nothing."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.seen = 0

    def filter(self, record: logging.LogRecord) -> bool:
        """Count ``record``; let it through while under the limit."""
        self.seen += 1
        if self.seen == self.limit + 1:
            record.msg = "further delivery failures are counted, not logged"
            record.args = ()
            return True
        return self.seen <= self.limit


def limit_delivery_failure_logs(limit: int = 20) -> FirstN:
    """Install :class:`FirstN` on the delivery tracker's logger; return it."""
    limiter = FirstN(limit)
    logging.getLogger(DELIVERY_LOGGER).addFilter(limiter)
    return limiter
