"""Celery's ``rpc://`` result backend on Kelery's transport, with a real prefork worker.

``rpc://`` sends each result to the caller's own transient queue through the
nameless exchange, from the pool child that ran the task, which never declared
that queue. The transport carries it on the reply topic, which the caller
reads from the moment it declared the queue, and creates no topic per caller.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from celery import group
from confluent_kafka.admin import AdminClient

from .conftest import TransportEnv, stop_worker

pytestmark = pytest.mark.integration

RESULT_S = 90.0  # a safety net against hanging, not a speed claim


@pytest.fixture(scope="module")
def rpc_app(transport_env: TransportEnv) -> Iterator[ModuleType]:
    """The test app with ``result_backend = rpc://``, here and in one running worker."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KTT_RESULT_BACKEND", "rpc://")
        module = transport_env.load_app()
        worker = transport_env.start_worker("rpc")
    yield module
    module.app.backend.result_consumer.stop()  # its own connection, outside kombu's pools
    module.app.close()
    stop_worker(worker)


def test_a_result_comes_back_through_rpc(rpc_app: ModuleType) -> None:
    result = rpc_app.record.delay("rpc-one", 7)
    assert result.get(timeout=RESULT_S) == 7
    assert result.successful()


def test_many_results_and_a_group_come_back_each_to_its_task(rpc_app: ModuleType) -> None:
    results = [rpc_app.record.delay("rpc-many", n) for n in range(100)]
    assert [result.get(timeout=RESULT_S) for result in results] == list(range(100))
    together = group(rpc_app.record.s("rpc-group", n) for n in range(10))()
    assert together.get(timeout=RESULT_S) == list(range(10))


def test_a_failure_and_a_retried_task_reach_the_caller(rpc_app: ModuleType) -> None:
    with pytest.raises(ValueError, match="broken on purpose"):
        rpc_app.fail.delay("broken on purpose").get(timeout=RESULT_S)
    assert rpc_app.retry_once.delay("rpc-retry", 1).get(timeout=RESULT_S) == 1


def test_no_topic_is_created_for_the_callers_reply_queue(
    rpc_app: ModuleType, transport_env: TransportEnv
) -> None:
    rpc_app.record.delay("rpc-topics", 1).get(timeout=RESULT_S)
    reply_queue = rpc_app.app.backend.oid
    admin = AdminClient({"bootstrap.servers": transport_env.bootstrap})
    topics = set(admin.list_topics(timeout=30).topics)
    assert transport_env.prefix + "kelery.replies" in topics
    assert transport_env.topic(reply_queue) not in topics
