"""``kelery-consume``: route Kafka chat events to Celery tasks, at least once.

Flags override the environment (``.env`` included); see ``--help`` and the
package README for the settings table. Exit status: 0 after a clean stop, 2 for
bad settings or a bad routing file, 1 when Kafka or the Celery broker failed.
"""

from __future__ import annotations

import argparse
import logging
import sys
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from kombu.utils.url import maybe_sanitize_url

from kelery.common.dlq import dlq_topic_for
from kelery.common.kafka_config import client_config
from kelery.common.logging import add_verbosity_arguments, level_from_arguments, setup_logging
from kelery.common.reachability import require_cluster
from kelery.common.runtime import EXIT_OK, GracefulShutdown, run_main
from kelery.common.settings import KafkaSettings, load_settings
from kelery.common.topics import ensure_topics
from kelery.consumer import __version__
from kelery.consumer.decide import Decider
from kelery.consumer.dispatch import (
    Dispatcher,
    DryRunDispatcher,
    LiveDispatcher,
    celery_broker_config,
    make_celery_app,
)
from kelery.consumer.loop import ConsumeLoop, LoopOptions
from kelery.consumer.metrics import ConsumerStats, serve_metrics
from kelery.consumer.progress import live_status
from kelery.consumer.routing import RoutingTable
from kelery.consumer.settings import ConsumerSettings

log = logging.getLogger("kelery.consumer")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (public so the README and tests can show it)."""
    parser = argparse.ArgumentParser(
        prog="kelery-consume",
        description=(
            "Read chat events from Kafka, validate them, and send routed commands to "
            "Celery by task name. Unknown commands are answered on the speak topic; "
            "undecodable records go to <topic>.dlq. Offsets are committed only after "
            "the work is handed on (at-least-once)."
        ),
        epilog="Settings come from the environment and .env; flags win. See the README.",
    )
    parser.add_argument(
        "-t",
        "--topic",
        action="append",
        dest="topics",
        metavar="TOPIC",
        help="topic to read (repeatable; default: CONSUMER_TOPICS, else COMMANDS_TOPIC)",
    )
    parser.add_argument("-g", "--group", help="consumer group id (CONSUMER_GROUP_ID)")
    parser.add_argument(
        "--offset-reset",
        choices=["earliest", "latest", "error"],
        help="where a new group starts (KAFKA_AUTO_OFFSET_RESET; default earliest)",
    )
    parser.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT,...",
        help="Kafka brokers (KAFKA_BOOTSTRAP_SERVERS)",
    )
    parser.add_argument(
        "--routing", metavar="FILE", help="TOML/JSON routing file (CONSUMER_ROUTING_FILE)"
    )
    parser.add_argument(
        "--plain-task",
        metavar="TASK",
        help="task for plain chat messages, e.g. kelery.record_message "
        "(CONSUMER_PLAIN_MESSAGE_TASK; default: none)",
    )
    parser.add_argument(
        "--broker-url",
        metavar="URL",
        help="Celery broker to publish to (CELERY_BROKER_URL; default: Kelery's Kafka "
        "transport on KAFKA_BOOTSTRAP_SERVERS). Prefer the variable when the URL has a password",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="decide and print each record; send nothing, commit nothing "
        "(reads with a private throw-away group so the live group is not disturbed)",
    )
    parser.add_argument(
        "--max-records", type=_positive_int, metavar="N", help="stop after N records"
    )
    parser.add_argument(
        "--stop-at-end",
        action="store_true",
        help="stop once every assigned partition is read to its end and all work is done",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus counters on this port (CONSUMER_METRICS_PORT)",
    )
    parser.add_argument(
        "--show-routes", action="store_true", help="print the routing table and exit"
    )
    add_verbosity_arguments(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def load_consumer_settings(args: argparse.Namespace) -> ConsumerSettings:
    """Settings from the environment with the CLI's flags applied on top."""
    overrides: dict[str, Any] = {}
    kafka_overrides: dict[str, Any] = {}
    if args.topics:
        overrides["consumer_topics"] = args.topics
    if args.group:
        overrides["consumer_group_id"] = args.group
    if args.routing:
        overrides["consumer_routing_file"] = args.routing
    if args.plain_task:
        overrides["consumer_plain_message_task"] = args.plain_task
    if args.broker_url:
        overrides["celery_broker_url"] = args.broker_url
    if args.metrics_port is not None:
        overrides["consumer_metrics_port"] = args.metrics_port
    if args.offset_reset:
        kafka_overrides["auto_offset_reset"] = args.offset_reset
    if args.bootstrap_servers:
        kafka_overrides["bootstrap_servers"] = args.bootstrap_servers
    if kafka_overrides:
        overrides["kafka"] = load_settings(KafkaSettings, **kafka_overrides)
    return load_settings(ConsumerSettings, **overrides)


def _connect_check(consumer: Consumer, settings: ConsumerSettings) -> None:
    """Fail fast, with the brokers named, when Kafka does not answer at start."""
    require_cluster(
        consumer,
        settings.kafka.bootstrap,
        timeout=settings.consumer_startup_timeout_s,
        timeout_setting="CONSUMER_STARTUP_TIMEOUT_S",
    )


def _ensure_topics(settings: ConsumerSettings) -> None:
    names = [*settings.topics, *(dlq_topic_for(t) for t in settings.topics), settings.speak_topic]
    try:
        ensure_topics(settings.kafka, names, timeout=settings.consumer_startup_timeout_s)
    except KafkaException as exc:
        log.warning("could not create missing topics (%s); continuing", exc)


def _make_dispatcher(
    settings: ConsumerSettings, stats: ConsumerStats, cleanup: ExitStack, *, dry_run: bool
) -> Dispatcher:
    """The dispatcher; what it opens is closed by ``cleanup`` if start-up fails later."""
    if dry_run:
        return DryRunDispatcher(stats, sys.stdout)
    url = settings.celery_broker_url
    config = celery_broker_config(
        url.get_secret_value() if url is not None else None,
        settings.celery_broker_transport_options,
        settings.kafka,
    )
    log.info("publishing tasks to %s", maybe_sanitize_url(config["broker_url"]))
    app = make_celery_app(config)
    cleanup.callback(app.close)
    producer = Producer(client_config(settings.kafka, "producer"))
    cleanup.callback(producer.close)  # nothing produced yet: closes at once
    return LiveDispatcher(app, producer, settings.speak_topic, stats)


def run(args: argparse.Namespace) -> int:
    """The body of ``kelery-consume`` once arguments are parsed."""
    settings = load_consumer_settings(args)
    setup_logging(settings.log, level=level_from_arguments(args))
    routing = RoutingTable.load(settings.consumer_routing_file)
    if args.show_routes:
        for name, route in routing.items():
            queue = route.queue or settings.consumer_task_queue
            print(f"{settings.command_prefix}{name}\t{route.task}\tqueue={queue}")  # noqa: T201
        return EXIT_OK
    decider = Decider(
        routing,
        prefix=settings.command_prefix,
        plain_message_task=settings.consumer_plain_message_task,
        default_queue=settings.consumer_task_queue,
    )
    group = settings.consumer_group_id
    if args.dry_run:
        group = f"{group}.dry-run.{uuid.uuid4().hex[:12]}"
    stats = ConsumerStats()
    with ExitStack() as running:
        # Until the loop runs, ``startup`` owns the clients: a failing connect check,
        # topic creation or metrics server closes them. The loop closes them itself.
        startup = running.enter_context(ExitStack())
        dispatcher = _make_dispatcher(settings, stats, startup, dry_run=args.dry_run)
        consumer = Consumer(
            client_config(
                settings.kafka,
                "consumer",
                group_id=group,
                **{"enable.partition.eof": bool(args.stop_at_end)},
            )
        )
        startup.callback(consumer.close)
        _connect_check(consumer, settings)
        if settings.consumer_ensure_topics and not args.dry_run:
            _ensure_topics(settings)
        loop = ConsumeLoop(consumer, decider, dispatcher, _loop_options(settings, args), stats)
        log.info("group %s, %d routes, dry run: %s", group, len(routing), args.dry_run)
        if settings.consumer_metrics_port is not None:
            running.callback(serve_metrics(stats, settings.consumer_metrics_port))
        stop = running.enter_context(GracefulShutdown())
        running.enter_context(_status(stats, dry_run=args.dry_run))
        startup.pop_all()
        loop.run(stop)
    return EXIT_OK


def _loop_options(settings: ConsumerSettings, args: argparse.Namespace) -> LoopOptions:
    return LoopOptions(
        topics=settings.topics,
        commit=not args.dry_run,
        commit_batch_size=settings.consumer_commit_batch_size,
        commit_interval_s=settings.consumer_commit_interval_s,
        poll_batch=settings.consumer_poll_batch,
        summary_interval_s=settings.consumer_summary_interval_s,
        shutdown_timeout_s=settings.consumer_shutdown_timeout_s,
        max_records=args.max_records,
        stop_at_end=args.stop_at_end,
    )


def _status(stats: ConsumerStats, *, dry_run: bool) -> AbstractContextManager[bool]:
    """The live terminal status, except in a dry run (whose output is the decisions)."""
    return nullcontext(enter_result=False) if dry_run else live_status(stats)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``kelery-consume``."""
    args = build_parser().parse_args(argv)
    return run_main(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
