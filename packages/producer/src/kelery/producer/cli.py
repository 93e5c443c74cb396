"""``kelery-produce``: send messages to a Kafka topic, reliably, from the command line.

This module is argument parsing and wiring only: the messages come from
:mod:`~kelery.producer.sources`, become envelopes in
:mod:`~kelery.producer.envelope`, and are sent by :mod:`~kelery.producer.run`.
Exit status: 0 all delivered; 1 a message failed, an input line was invalid, or
Kafka could not be reached; 2 bad usage or settings; 130 a finite run was
interrupted before its input was all sent (what was sent was still flushed).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO, TextIO

from confluent_kafka import Producer

from kelery.common.delivery import DeliveryTracker
from kelery.common.errors import KeleryError
from kelery.common.kafka_config import client_config
from kelery.common.logging import add_verbosity_arguments, level_from_arguments, setup_logging
from kelery.common.runtime import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    GracefulShutdown,
    run_main,
)
from kelery.common.settings import load_settings
from kelery.producer import __version__
from kelery.producer.dead_letters import InputDeadLetters, InvalidInput
from kelery.producer.envelope import EnvelopeBuilder, Template
from kelery.producer.log_limits import limit_delivery_failure_logs
from kelery.producer.messages import chunked, compile_lines, repeated
from kelery.producer.preflight import check_cluster
from kelery.producer.progress import make_progress
from kelery.producer.rate import SteadyRate
from kelery.producer.run import DEFAULT_QUEUE_LIMIT, ErrorWatch, ProduceLoop, ProduceResult
from kelery.producer.settings import ProducerSettings
from kelery.producer.sources import (
    InputLine,
    lines_from_args,
    lines_from_stream,
    lines_in_background,
)

log = logging.getLogger("kelery.producer")

STDIN = "-"
FOREVER_DEFAULT_RATE = 1.0
"""Messages per second in ``--forever`` mode without ``--rate``: the seed's pace."""

EPILOG = """\
examples:
  kelery-produce                              the default message, once
  kelery-produce '!ping' 'hello there'        two messages
  kelery-produce --file lines.txt             one message per line
  tail -f app.log | kelery-produce -          stream stdin until EOF or Ctrl-C
  kelery-produce --json --file events.jsonl   JSON objects become envelopes
  kelery-produce --raw --json --file x.jsonl  send the JSON lines as typed
  kelery-produce --count 1000 --rate 50 hi    1000 messages at 50 per second
  kelery-produce --forever                    one message a second until Ctrl-C

exit status: 0 all delivered; 1 a delivery failed, invalid input or Kafka
unreachable; 2 bad usage or settings; 130 interrupted before all input was sent.
settings come from the environment or .env (KAFKA_BOOTSTRAP_SERVERS,
COMMANDS_TOPIC, PRODUCER_FLUSH_TIMEOUT, ...; see the README).
"""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0 (0 = unlimited), not {text}")
    return value


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name, value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also what ``--help`` prints)."""
    parser = argparse.ArgumentParser(
        prog="kelery-produce",
        description="Send messages to a Kafka topic as Kelery chat envelopes "
        "(uuid, content, timestamp, source), with every delivery confirmed.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "messages",
        nargs="*",
        metavar="MESSAGE",
        help="messages to send; '-' alone reads stdin; none: PRODUCER_DEFAULT_MESSAGE",
    )
    source = parser.add_argument_group("input")
    source.add_argument(
        "-f", "--file", metavar="PATH", help="read one message per line from PATH ('-': stdin)"
    )
    source.add_argument(
        "--json",
        action="store_true",
        help="lines are JSON: an object's fields (content, channel_id, ...) or a string",
    )
    source.add_argument(
        "--raw", action="store_true", help="send each message exactly as given, no envelope"
    )
    record = parser.add_argument_group("record")
    record.add_argument("-t", "--topic", help="target topic (default: COMMANDS_TOPIC)")
    record.add_argument("-k", "--key", help="record key (default: the channel id, if any)")
    record.add_argument(
        "-H",
        "--header",
        action="append",
        type=_header,
        default=[],
        metavar="NAME=VALUE",
        help="add a record header (repeatable)",
    )
    record.add_argument("--channel-id", help="the envelope's channel_id (where replies go)")
    record.add_argument("--author-name", help="the envelope's author_name")
    mode = parser.add_argument_group("mode")
    repeat = mode.add_mutually_exclusive_group()
    repeat.add_argument(
        "-n",
        "--count",
        type=_positive_int,
        default=1,
        metavar="N",
        help="send the messages N times over (default 1)",
    )
    repeat.add_argument(
        "--forever",
        action="store_true",
        help=f"repeat until Ctrl-C/SIGTERM (at {FOREVER_DEFAULT_RATE:g}/s unless --rate)",
    )
    mode.add_argument(
        "-r",
        "--rate",
        type=_rate,
        metavar="R",
        help="messages per second, steady; 0 = unlimited (default: unlimited)",
    )
    output = parser.add_argument_group("output")
    add_verbosity_arguments(output, quiet_help="no progress or summary; errors only")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse and cross-check the command line (argparse exits 2 on a usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.file is not None and args.messages:
        parser.error("give messages as arguments or with --file, not both")
    if args.messages == [STDIN]:
        args.file, args.messages = STDIN, []
    elif STDIN in args.messages:
        parser.error("'-' (stdin) cannot be mixed with other messages")
    if args.rate is None:
        args.rate = FOREVER_DEFAULT_RATE if args.forever else 0.0
    return args


def _open_input(path: str) -> BinaryIO:
    if path == STDIN:
        return sys.stdin.buffer
    try:
        return Path(path).open("rb")
    except OSError as exc:
        raise KeleryError(f"cannot read {path}: {exc.strerror}") from None


def _input_lines(
    args: argparse.Namespace, settings: ProducerSettings, resources: ExitStack
) -> Iterator[InputLine]:
    if args.file is None:
        return lines_from_args(args.messages or [settings.default_message])
    stream = _open_input(args.file)
    if args.file != STDIN:
        resources.callback(stream.close)
    name = "stdin" if args.file == STDIN else args.file
    if _streamed(args):
        return lines_in_background(stream, name)
    return lines_from_stream(stream, name)


def _streamed(args: argparse.Namespace) -> bool:
    """Stdin sent once is streamed line by line; everything else is read up front."""
    return bool(args.file == STDIN and not args.forever and args.count == 1)


def execute(
    args: argparse.Namespace, settings: ProducerSettings, out: TextIO | None = None
) -> ProduceResult:
    """Do what ``args`` ask: connect, send, flush; return the counts.

    Raises KeleryError (unreachable cluster, refused topic, unreadable file)
    before anything is produced.
    """
    with ExitStack() as resources:
        return _execute(args, settings, out or sys.stdout, resources)


def _execute(
    args: argparse.Namespace, settings: ProducerSettings, out: TextIO, resources: ExitStack
) -> ProduceResult:
    topic = args.topic or settings.commands_topic
    builder = EnvelopeBuilder(
        source=settings.source,
        channel_id=args.channel_id,
        author_name=args.author_name,
        key=args.key,
    )
    invalid = InvalidInput()
    lines = compile_lines(
        _input_lines(args, settings, resources),
        builder,
        json_lines=args.json,
        raw=args.raw,
        on_invalid=invalid,
    )
    rounds = None if args.forever else args.count
    templates: list[Template] | None = None
    if not _streamed(args):  # check every line before sending anything
        templates = [t for t in lines if t is not None]

    stop = GracefulShutdown()
    errors = ErrorWatch(stop)
    config = client_config(settings.kafka, "producer", error_cb=errors)
    producer = Producer(config)
    check_cluster(
        producer, topic, bootstrap=settings.kafka.bootstrap, timeout=settings.connect_timeout
    )
    log.debug("producing to %s on %s", topic, settings.kafka.bootstrap)
    total = None if templates is None or rounds is None else len(templates) * rounds
    loop = ProduceLoop(
        producer,
        topic,
        tracker=DeliveryTracker(),
        stop=stop,
        flush_timeout=settings.flush_timeout,
        headers=[(name, value.encode("utf-8")) for name, value in args.header],
        progress=make_progress(
            out, quiet=args.quiet, total=total, interval=settings.progress_interval
        ),
        errors=errors,
        dead_letters=InputDeadLetters(producer, topic, invalid),
        queue_limit=int(config.get("queue.buffering.max.messages", DEFAULT_QUEUE_LIMIT)),
    )
    limiter = SteadyRate(args.rate) if args.rate > 0 else None
    with stop:
        if templates is None:  # streamed stdin: each line goes as it comes
            return loop.run(lines, limiter)
        if limiter is not None:
            return loop.run(repeated(templates, rounds), limiter)
        return loop.run_chunks(chunked(repeated(templates, rounds), builder))


def summarise(result: ProduceResult, topic: str, *, forever: bool, quiet: bool) -> int:
    """Print the run's outcome (failures always, to stderr) and return the exit status."""
    if not quiet:
        rate = result.delivered / result.elapsed if result.elapsed > 0 else 0.0
        print(  # noqa: T201 - the CLI's own output
            f"delivered {result.delivered} of {result.attempted} messages to {topic} "
            f"in {result.elapsed:.3f} s ({rate:,.0f} msg/s)"
        )
    if result.failed:
        print(  # noqa: T201
            f"error: {result.failed} of {result.attempted} messages failed", file=sys.stderr
        )
        for error in result.errors[:5]:
            print(f"  {error}", file=sys.stderr)  # noqa: T201
    if result.rejected:
        lost = (
            f"; {result.not_dead_lettered} of them could not be copied there either"
            if result.not_dead_lettered
            else ""
        )
        print(  # noqa: T201
            f"error: {result.rejected} input lines were invalid and not sent to {topic}; "
            f"copied to {result.dead_letter_topic}{lost}",
            file=sys.stderr,
        )
    if result.fatal and not result.failed:
        print(f"error: {result.errors[0]}", file=sys.stderr)  # noqa: T201
    if not result.ok:
        return EXIT_FAILURE
    if not result.complete and not forever:
        return EXIT_INTERRUPTED
    return EXIT_OK


def _main(argv: Sequence[str] | None) -> int:
    args = parse_args(argv)
    settings = load_settings(ProducerSettings)
    setup_logging(settings.log, level=level_from_arguments(args))
    limit_delivery_failure_logs()
    result = execute(args, settings)
    topic = args.topic or settings.commands_topic
    return summarise(result, topic, forever=args.forever, quiet=args.quiet)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``kelery-produce`` entry point."""
    return run_main(lambda: _main(argv))
