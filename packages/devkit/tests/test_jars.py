"""Where the jars come from, and the messages when they cannot be had."""

from __future__ import annotations

from pathlib import Path

import pytest

from kelery.devkit.kafka.errors import KafkaUnavailableError
from kelery.devkit.kafka.jars import resolve_jars
from kelery.devkit.kafka.paths import cache_root


def test_kafka_home_libs_are_used_as_they_are(tmp_path: Path) -> None:
    libs = tmp_path / "libs"
    libs.mkdir()
    (libs / "kafka_2.13-4.2.0.jar").touch()
    jars = resolve_jars({"KAFKA_HOME": str(tmp_path)})
    assert jars.libs == libs
    assert jars.version == "4.2.0"
    assert jars.classpath == f"{libs}/*"
    assert "KAFKA_HOME" in jars.source


def test_kafka_home_without_kafka_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KafkaUnavailableError, match="KAFKA_HOME"):
        resolve_jars({"KAFKA_HOME": str(tmp_path)})


def test_cached_jars_need_no_maven(tmp_path: Path) -> None:
    home = tmp_path / "kafka-4.1.1"
    (home / "libs").mkdir(parents=True)
    (home / "libs" / "kafka_2.13-4.1.1.jar").touch()
    (home / ".complete").write_text("4.1.1\n")
    jars = resolve_jars({"KELERY_CACHE_DIR": str(tmp_path), "PATH": str(tmp_path)})
    assert jars.version == "4.1.1"


def test_missing_maven_says_what_to_install(tmp_path: Path) -> None:
    env = {"KELERY_CACHE_DIR": str(tmp_path), "PATH": str(tmp_path)}
    with pytest.raises(KafkaUnavailableError) as caught:
        resolve_jars(env)
    message = str(caught.value)
    assert "`mvn` was not found" in message
    assert "apt-get install openjdk-17-jre-headless maven" in message
    assert "KELERY_TEST_KAFKA" in message
    assert "KAFKA_HOME" in message


def test_half_downloaded_cache_is_not_trusted(tmp_path: Path) -> None:
    (tmp_path / "kafka-4.1.1" / "libs").mkdir(parents=True)  # no .complete marker
    with pytest.raises(KafkaUnavailableError, match="mvn"):
        resolve_jars({"KELERY_CACHE_DIR": str(tmp_path), "PATH": str(tmp_path)})


def test_cache_root_follows_variables(tmp_path: Path) -> None:
    assert cache_root({"KELERY_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert cache_root({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "kelery"
