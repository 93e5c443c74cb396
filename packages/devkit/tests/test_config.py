"""server.properties, log4j2 and cluster-id generation for the local broker."""

from __future__ import annotations

import base64
from pathlib import Path

from kelery.devkit.kafka.config import (
    LOG4J2_PROPERTIES,
    new_cluster_id,
    render_properties,
    server_properties,
)
from kelery.devkit.kafka.jars import kafka_version_in, pom_xml
from kelery.devkit.kafka.local import broker_version_from_log


def test_single_node_kraft_properties(tmp_path: Path) -> None:
    props = server_properties(port=9092, controller_port=9093, log_dir=tmp_path)
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"
    assert props["log.dirs"] == str(tmp_path)
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "true"


def test_overrides_replace_defaults(tmp_path: Path) -> None:
    props = server_properties(
        port=1, controller_port=2, log_dir=tmp_path, overrides={"num.partitions": "3"}
    )
    assert props["num.partitions"] == "3"


def test_render_properties_is_a_java_properties_file() -> None:
    text = render_properties({"a.b": "1", "path": "C:\\x", "multi": "x\ny"})
    lines = text.splitlines()
    assert lines[0].startswith("#")
    assert lines[1:] == ["a.b=1", "path=C:\\\\x", "multi=x\\ny"]


def test_log4j2_logs_info_to_the_console() -> None:
    assert "rootLogger.level=INFO" in LOG4J2_PROPERTIES
    assert "appender.stdout.type=Console" in LOG4J2_PROPERTIES


def test_cluster_id_looks_like_kafkas_uuid() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cluster_id in ids:
        assert len(cluster_id) == 22
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_pom_pins_kafka_log4j2_and_slf4j2() -> None:
    pom = pom_xml("4.1.1")
    assert "<artifactId>kafka_2.13</artifactId><version>4.1.1</version>" in pom
    assert "<artifactId>log4j-slf4j2-impl</artifactId><version>2.24.3</version>" in pom
    assert "<artifactId>slf4j-api</artifactId><version>2.0.17</version>" in pom


def test_version_from_jar_names(tmp_path: Path) -> None:
    assert kafka_version_in(tmp_path) is None
    for name in ("kafka-clients-4.1.1.jar", "kafka_2.13-4.1.1.jar", "scala-library-2.13.16.jar"):
        (tmp_path / name).touch()
    assert kafka_version_in(tmp_path) == "4.1.1"


def test_version_from_broker_log() -> None:
    log = "[2026] INFO Kafka version: 4.1.1 (org.apache.kafka.common.utils.AppInfoParser)\n"
    assert broker_version_from_log(log) == "4.1.1"
    assert broker_version_from_log("nothing") is None
