"""An answer that is not confirmed raises (so the late ack never happens), never just logs."""

from __future__ import annotations

import pytest
from celery.exceptions import Reject

from kelery.common.contracts import CHAT_TASKS
from kelery.common.schemas import SpeakMessage
from kelery.common.settings import KafkaSettings
from kelery.tasks.factory import create_app
from kelery.tasks.publisher import DeliveryFailedError, ProcessProducer
from kelery.tasks.settings import TasksSettings

NOWHERE = KafkaSettings(bootstrap_servers="127.0.0.1:1")  # type: ignore[arg-type]


def test_an_unconfirmed_answer_raises_a_retriable_error() -> None:
    producer = ProcessProducer(NOWHERE)
    message = SpeakMessage(channel_id="1", content="pong", task_id="t-1")
    with pytest.raises(DeliveryFailedError, match="t-1") as info:
        producer.publish_speak(message, "kelery.speak", timeout=0.2)
    assert info.value.retriable is True


@pytest.mark.parametrize("retriable", [True, False])
def test_the_task_rejects_with_requeue_only_when_a_retry_can_succeed(
    monkeypatch: pytest.MonkeyPatch, retriable: bool
) -> None:
    app = create_app(TasksSettings(kafka=NOWHERE, celery_broker_url="memory://"))

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise DeliveryFailedError("refused", retriable=retriable)

    monkeypatch.setattr(app.kelery.producer, "publish_speak", refuse)
    with pytest.raises(Reject) as info:
        app.tasks[CHAT_TASKS["ping"]].on_success("pong", "t-1", (), {})
    assert info.value.requeue is retriable


def test_the_answer_producer_does_not_linger(monkeypatch: pytest.MonkeyPatch) -> None:
    # every answer is waited for before the task returns: a linger would add to every task
    made: list[dict[str, object]] = []
    monkeypatch.setattr("kelery.tasks.publisher.Producer", made.append)
    _ = ProcessProducer(NOWHERE).producer
    assert made[0]["linger.ms"] == 0
    assert made[0]["enable.idempotence"] is True
