"""The routing table: which chat command becomes which Celery task, and nothing else.

Only a name in this table is ever sent to Celery, so a user typing ``!anything``
can never make the consumer publish an arbitrary task. The default table is the
built-in chat tasks (:data:`kelery.common.contracts.CHAT_TASKS`); a TOML or JSON
file (``CONSUMER_ROUTING_FILE`` / ``--routing``) adds, replaces or removes routes::

    include_defaults = true          # start from the built-in table (default: true)

    [commands]
    weather = "myapp.weather"        # a new command -> task name
    remind = false                   # remove a built-in command
    report = { task = "myapp.report", queue = "reports" }   # own Celery queue

The module is pure (no Kafka, no Celery) so every rule is unit-tested.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kelery.common.contracts import CHAT_TASKS
from kelery.common.errors import SettingsError

_TASK_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:\-]*$")
_TOP_LEVEL_KEYS = frozenset({"include_defaults", "commands"})
_ROUTE_KEYS = frozenset({"task", "queue"})


class RoutingError(SettingsError):
    """The routing file is unreadable or wrong; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where one command goes: a Celery task name and, optionally, its own queue."""

    task: str
    queue: str | None = None


def is_command_name(name: str) -> bool:
    """True if ``name`` is a name :func:`kelery.common.schemas.parse_command` can produce."""
    return bool(name) and name == name.lower() and name.replace("-", "").replace("_", "").isalnum()


class RoutingTable(Mapping[str, Route]):
    """An immutable mapping command name -> :class:`Route`."""

    __slots__ = ("_routes",)

    def __init__(self, routes: Mapping[str, Route]) -> None:
        for name, route in routes.items():
            _check_command(name, "routing table")
            _check_task(route.task, f"command {name!r}")
        self._routes = dict(routes)

    def __getitem__(self, name: str) -> Route:
        return self._routes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._routes)

    def __len__(self) -> int:
        return len(self._routes)

    def __repr__(self) -> str:
        return f"RoutingTable({self._routes!r})"

    def task_names(self) -> dict[str, str]:
        """Command name -> task name: what the help task lists."""
        return {name: route.task for name, route in self._routes.items()}

    @classmethod
    def default(cls) -> RoutingTable:
        """The built-in chat tasks: ping, echo, help, remind, stats."""
        return cls({name: Route(task) for name, task in CHAT_TASKS.items()})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "routing") -> RoutingTable:
        """Build a table from a parsed routing document (see the module docstring)."""
        unknown = set(data) - _TOP_LEVEL_KEYS
        if unknown:
            raise RoutingError(
                f"{source}: unknown key(s) {sorted(unknown)}; expected "
                f"'include_defaults' and a 'commands' table"
            )
        include_defaults = data.get("include_defaults", True)
        if not isinstance(include_defaults, bool):
            raise RoutingError(f"{source}: include_defaults must be true or false")
        commands = data.get("commands", {})
        if not isinstance(commands, Mapping):
            raise RoutingError(f"{source}: 'commands' must be a table of name = task")
        routes = dict(cls.default()._routes) if include_defaults else {}
        for name, value in commands.items():
            where = f"{source}: command {name!r}"
            _check_command(name, source)
            if value is False or value is None:
                routes.pop(name, None)
            else:
                routes[name] = _parse_route(value, where)
        return cls(routes)

    @classmethod
    def from_file(cls, path: Path) -> RoutingTable:
        """Load a ``.toml`` or ``.json`` routing file, or raise RoutingError saying why."""
        source = f"routing file {str(path)!r} (CONSUMER_ROUTING_FILE)"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RoutingError(f"{source}: cannot read: {exc}") from None
        try:
            data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
            raise RoutingError(f"{source}: not valid {kind}: {exc}") from None
        if not isinstance(data, Mapping):
            raise RoutingError(f"{source}: expected an object at the top level")
        return cls.from_mapping(data, source=source)

    @classmethod
    def load(cls, path: Path | None) -> RoutingTable:
        """The table from ``path`` if given, else the default one."""
        return cls.default() if path is None else cls.from_file(path)


def _parse_route(value: Any, where: str) -> Route:
    if isinstance(value, str):
        _check_task(value, where)
        return Route(value)
    if isinstance(value, Mapping):
        unknown = set(value) - _ROUTE_KEYS
        if unknown:
            raise RoutingError(f"{where}: unknown key(s) {sorted(unknown)}; use task, queue")
        task, queue = value.get("task"), value.get("queue")
        if not isinstance(task, str):
            raise RoutingError(f"{where}: 'task' (a Celery task name) is required")
        _check_task(task, where)
        if queue is not None and (not isinstance(queue, str) or not queue.strip()):
            raise RoutingError(f"{where}: 'queue' must be a non-empty string")
        return Route(task, queue)
    raise RoutingError(f"{where}: expected a task name, a {{task, queue}} table or false")


def _check_command(name: Any, where: str) -> None:
    if not isinstance(name, str) or not is_command_name(name):
        raise RoutingError(
            f"{where}: {name!r} is not a command name (lower-case letters, digits, '-', '_')"
        )


def _check_task(task: str, where: str) -> None:
    if not _TASK_NAME.match(task):
        raise RoutingError(f"{where}: {task!r} is not a Celery task name")
