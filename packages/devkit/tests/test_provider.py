"""The choice of Kafka provider, with the environment and the Docker probe injected."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from kelery.devkit.kafka.provider import (
    KafkaChoice,
    ProviderKind,
    choose_provider,
    docker_daemon_answers,
)


def _no_docker() -> bool:
    return False


def _docker() -> bool:
    return True


def _probe_must_not_run() -> bool:
    pytest.fail("the Docker probe ran although a cluster was configured")


def test_no_variable_and_no_docker_means_local_broker() -> None:
    choice = choose_provider({}, _no_docker)
    assert choice.kind is ProviderKind.LOCAL
    assert choice.bootstrap_servers is None


def test_docker_answering_means_container() -> None:
    assert choose_provider({}, _docker).kind is ProviderKind.CONTAINER


@pytest.mark.parametrize("name", ["KELERY_TEST_KAFKA", "KAFKA_BOOTSTRAP_SERVERS"])
def test_variable_set_means_external_without_probing_docker(name: str) -> None:
    choice = choose_provider({name: "10.0.0.1:9092"}, _probe_must_not_run)
    assert choice == KafkaChoice(ProviderKind.EXTERNAL, f"{name} is set", "10.0.0.1:9092")


def test_kelery_test_kafka_wins_over_app_bootstrap() -> None:
    env = {"KELERY_TEST_KAFKA": "test:1", "KAFKA_BOOTSTRAP_SERVERS": "app:2"}
    assert choose_provider(env, _docker).bootstrap_servers == "test:1"


def test_blank_variable_counts_as_unset() -> None:
    assert choose_provider({"KAFKA_BOOTSTRAP_SERVERS": "  "}, _no_docker).kind is ProviderKind.LOCAL


def test_forcing_local_ignores_variables_and_docker() -> None:
    env = {"KELERY_KAFKA_PROVIDER": "local", "KAFKA_BOOTSTRAP_SERVERS": "app:2"}
    assert choose_provider(env, _probe_must_not_run).kind is ProviderKind.LOCAL


def test_forcing_container_skips_the_probe() -> None:
    env = {"KELERY_KAFKA_PROVIDER": "Container"}
    assert choose_provider(env, _probe_must_not_run).kind is ProviderKind.CONTAINER


def test_forcing_external_without_servers_is_an_error() -> None:
    with pytest.raises(ValueError, match="KAFKA_BOOTSTRAP_SERVERS"):
        choose_provider({"KELERY_KAFKA_PROVIDER": "external"}, _no_docker)


def test_unknown_forced_provider_is_an_error() -> None:
    with pytest.raises(ValueError, match="KELERY_KAFKA_PROVIDER"):
        choose_provider({"KELERY_KAFKA_PROVIDER": "zookeeper"}, _no_docker)


def test_docker_probe_is_false_without_a_socket(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": f"unix://{tmp_path / 'absent.sock'}"}
    assert docker_daemon_answers(env, timeout_s=0.5) is False


def test_docker_probe_is_false_for_unsupported_schemes() -> None:
    assert docker_daemon_answers({"DOCKER_HOST": "ssh://box"}) is False


def test_docker_probe_is_true_when_the_engine_pings_ok() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        assert docker_daemon_answers({"DOCKER_HOST": f"tcp://127.0.0.1:{port}"}) is True
    finally:
        thread.join(timeout=5)
        server.close()
