"""The routing table: defaults, files (TOML and JSON), and every way a file can be wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from kelery.common.contracts import CHAT_TASKS
from kelery.common.errors import SettingsError
from kelery.consumer.routing import Route, RoutingError, RoutingTable


def test_default_table_is_the_chat_tasks() -> None:
    table = RoutingTable.default()
    assert {name: route.task for name, route in table.items()} == CHAT_TASKS
    assert RoutingTable.load(None) == table


def test_toml_file_adds_replaces_and_removes(tmp_path: Path) -> None:
    path = tmp_path / "routes.toml"
    path.write_text(
        """
[commands]
weather = "myapp.weather"
ping = "myapp.better_ping"
remind = false
report = { task = "myapp.report", queue = "reports" }
""",
        encoding="utf-8",
    )
    table = RoutingTable.from_file(path)
    assert table["weather"] == Route("myapp.weather")
    assert table["ping"] == Route("myapp.better_ping")
    assert table["report"] == Route("myapp.report", "reports")
    assert "remind" not in table
    assert table["echo"] == Route(CHAT_TASKS["echo"])


def test_json_file_without_defaults(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    path.write_text(
        '{"include_defaults": false, "commands": {"deploy": "ops.deploy"}}', encoding="utf-8"
    )
    table = RoutingTable.from_file(path)
    assert dict(table) == {"deploy": Route("ops.deploy")}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[commands]\nPing = 'x.y'", "'Ping' is not a command name"),
        ("[commands]\n'bad name' = 'x.y'", "is not a command name"),
        ("[commands]\nping = 'has space'", "is not a Celery task name"),
        ("[commands]\nping = 3", "expected a task name"),
        ("[commands]\nping = { queue = 'q' }", "'task'"),
        ("[commands]\nping = { task = 'a.b', colour = 'red' }", "colour"),
        ("[commands]\nping = { task = 'a.b', queue = '' }", "'queue'"),
        ("include_defaults = 'yes'", "include_defaults"),
        ("comands = {}", "unknown key"),
        ("commands = 'x'", "'commands' must be a table"),
        ("[commands\n", "not valid TOML"),
    ],
)
def test_bad_routing_files_name_the_file_and_the_problem(
    tmp_path: Path, text: str, needle: str
) -> None:
    path = tmp_path / "routes.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RoutingError) as info:
        RoutingTable.from_file(path)
    assert needle in str(info.value)
    assert str(path) in str(info.value)
    assert "CONSUMER_ROUTING_FILE" in str(info.value)


def test_bad_json_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "routes.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(RoutingError, match="not valid JSON"):
        RoutingTable.from_file(bad)
    listed = tmp_path / "list.json"
    listed.write_text("[]", encoding="utf-8")
    with pytest.raises(RoutingError, match="object at the top level"):
        RoutingTable.from_file(listed)
    with pytest.raises(RoutingError, match="cannot read"):
        RoutingTable.from_file(tmp_path / "missing.toml")


def test_routing_error_is_a_settings_error() -> None:
    # run_main maps SettingsError to exit status 2: a bad routing file is bad configuration.
    assert issubclass(RoutingError, SettingsError)
