"""The summary log line, its timing, and the Prometheus endpoint."""

from __future__ import annotations

import logging
import socket
import urllib.request

import pytest

from kelery.consumer.metrics import ConsumerStats, SummaryReporter, serve_metrics


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_summary_is_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    stats = ConsumerStats(records=10, tasks_sent=8, dead_lettered=1, ignored=1)
    clock = _Clock()
    reporter = SummaryReporter(stats, 30.0, lambda: 4, clock)
    caplog.set_level(logging.INFO, logger="kelery.consumer.metrics")
    assert not reporter.maybe_report()
    clock.now += 30.0
    assert reporter.maybe_report()
    assert not reporter.maybe_report()
    assert caplog.messages == [
        "summary: records=10 tasks_sent=8 replies=0 dlq=1 ignored=1 publish_retries=0 lag=4"
    ]


def test_unknown_lag_is_shown_as_a_question_mark() -> None:
    assert ConsumerStats().line(None).endswith("lag=?")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_prometheus_endpoint_serves_the_live_counters() -> None:
    stats = ConsumerStats()
    port = _free_port()
    stop = serve_metrics(stats, port, addr="127.0.0.1")
    try:
        stats.records = 42
        stats.dead_lettered = 3
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read().decode()
    finally:
        stop()
    assert "kelery_consumer_records_total 42.0" in body
    assert "kelery_consumer_dead_lettered_total 3.0" in body
