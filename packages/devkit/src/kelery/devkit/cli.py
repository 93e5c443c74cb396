"""``kelery-dev``: run Kelery on one machine: the whole system, or a Kafka, or a fake Discord.

Subcommands live in :mod:`kelery.devkit.commands`, one module each. Failures a person
can fix (no Java, port taken, broker did not start) print one clear message and exit
non-zero, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from kelery.common.errors import KeleryError, SettingsError
from kelery.common.logging import setup_logging
from kelery.common.redaction import redact
from kelery.common.runtime import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE
from kelery.devkit import __version__
from kelery.devkit.commands import CommandError, register_all
from kelery.devkit.kafka.errors import BrokerStartError, KafkaUnavailableError

__all__ = ["build_parser", "main"]

_USER_ERRORS = (CommandError, KafkaUnavailableError, BrokerStartError, KeleryError)


def build_parser() -> argparse.ArgumentParser:
    """Return the full ``kelery-dev`` parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="kelery-dev",
        description=(
            "Run Kelery on one machine: the whole system (up), a real local Apache Kafka "
            "(kafka), a fake Discord (discord)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log what happens (INFO level)"
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    register_all(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the chosen command, and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    setup_logging(level="INFO" if args.verbose else "WARNING")
    try:
        return handler(args)
    except _USER_ERRORS as exc:
        sys.stderr.write(f"kelery-dev: error: {redact(str(exc))}\n")
        # A bad KAFKA_*/DISCORD_* value is a usage error, as in every Kelery CLI.
        return EXIT_USAGE if isinstance(exc, SettingsError) else EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
