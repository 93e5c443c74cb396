"""``kelery-dev`` subcommands, one module each, found automatically.

To add a subcommand, drop a module here exposing ``register(subparsers)``; it adds its
parser and sets ``handler`` (a function taking the parsed args and returning an exit
code) with ``parser.set_defaults(handler=...)``. Nothing else needs editing. Modules
whose name starts with ``_`` are helpers, not commands. Keep imports at the top of a
command module light: every ``kelery-dev`` call imports all of them.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Any

__all__ = ["CommandError", "register_all"]


class CommandError(RuntimeError):
    """A failure whose message is for the person at the terminal; printed without traceback."""


def register_all(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Import every command module in this package and let it register its parser."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{__name__}.{info.name}")
        except ImportError as exc:
            # One broken command (say, a missing optional dependency) must not take
            # `kelery-dev kafka` down with it; say so and carry on.
            sys.stderr.write(f"kelery-dev: command {info.name!r} unavailable: {exc}\n")
            continue
        register = getattr(module, "register", None)
        if callable(register):
            register(subparsers)
