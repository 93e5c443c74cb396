"""From input lines to the stream of templates the produce loop sends.

Two shapes, chosen by the mode:

- *finite and repeated* (``--count``, ``--forever``): every line is parsed and
  compiled up front (a bad line is reported before anything is sent), then the
  list is repeated with :mod:`itertools`, so a 200,000-message run costs no
  Python per repetition beyond building the record.
- *streamed* (stdin, sent once): lines are compiled as they arrive, so
  ``tail -f log | kelery-produce -`` works; ``None`` items tell the loop that no
  line is ready yet.

A line that cannot become a message is logged with its place and handed to
``on_invalid`` (which copies it to the dead-letter topic); it is never sent to
the target topic and never stops the others.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kelery.common.errors import InvalidMessageError
from kelery.producer.envelope import EnvelopeBuilder, Template
from kelery.producer.sources import IDLE, InputLine, parse_line

log = logging.getLogger(__name__)


def compile_lines(
    lines: Iterable[InputLine],
    builder: EnvelopeBuilder,
    *,
    json_lines: bool,
    raw: bool,
    on_invalid: Callable[[InputLine, str], None],
) -> Iterator[Template | None]:
    """Yield a template per valid line, ``None`` for an idle tick; report invalid lines."""
    for line in lines:
        if line is IDLE:
            yield None
            continue
        try:
            template = builder.compile(parse_line(line, json_lines=json_lines, raw=raw))
        except InvalidMessageError as exc:
            reason = str(exc)
        else:
            yield template
            continue
        if not reason.startswith(line.origin):
            reason = f"{line.origin}: {reason}"
        log.error("skipping invalid input: %s", reason)
        on_invalid(line, reason)


CHUNK = 256
"""Records built (and then produced) together in unlimited-rate runs."""

Chunk = list[dict[str, Any]]
"""Records as ``produce_batch`` takes them: ``{"value": bytes, "key": bytes | None}``."""


def chunked(
    templates: Iterator[Template], builder: EnvelopeBuilder, size: int = CHUNK
) -> Iterator[Chunk]:
    """Build records ``size`` at a time, each chunk just before it is sent."""
    while chunk := list(itertools.islice(templates, size)):
        yield builder.build_chunk(chunk)


def repeated(templates: list[Template], times: int | None) -> Iterator[Template]:
    """``templates`` over and over: ``times`` rounds, or forever when ``times`` is None."""
    if times is None:
        return itertools.cycle(templates)
    return itertools.chain.from_iterable(itertools.repeat(templates, times))
