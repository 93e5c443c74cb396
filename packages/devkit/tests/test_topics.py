"""Unique topic names, directly and through the plugin's fixture."""

from __future__ import annotations

import re

import pytest

from kelery.devkit.topics import unique_topic_name

LEGAL = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


def test_names_are_unique_and_legal() -> None:
    names = {unique_topic_name("test_x[param/with spaces]") for _ in range(500)}
    assert len(names) == 500
    for name in names:
        assert LEGAL.match(name), name
        assert name.startswith("t-test_x-param-with-spaces-")


def test_long_or_empty_hints_still_give_short_legal_names() -> None:
    assert LEGAL.match(unique_topic_name("x" * 1000))
    assert len(unique_topic_name("x" * 1000)) < 80
    assert re.fullmatch(r"t-[0-9a-f]{8}", unique_topic_name("///"))


@pytest.mark.parametrize("run", [1, 2])
def test_unique_topic_fixture_names_the_test(unique_topic: str, run: int) -> None:
    assert unique_topic.startswith(f"t-test_unique_topic_fixture_names_the_test-{run}-")


def test_plugin_imports_no_kafka_client() -> None:
    import subprocess
    import sys

    code = (
        "import sys, kelery.devkit.pytest_plugin; "
        "heavy = [m for m in ('confluent_kafka', 'testcontainers', 'docker', 'rich') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
