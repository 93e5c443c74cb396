"""Dead-lettering and commit reports with a stand-in producer (pure logic).

A flush that ends without a delivery report means the DLQ copy is still queued:
the speaker must wait for that copy, not produce a second one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, Message, TopicPartition

from kelery.discord_speaker.settings import SpeakerSettings
from kelery.discord_speaker.speaker import Speaker

Report = Callable[[KafkaError | None, Any], None]


class _SlowProducer:
    """Each flush answers with the next scripted outcome for the oldest queued copy.

    ``"none"``: no report yet (the copy stays queued); ``None``: delivered; a
    KafkaError: that copy failed.
    """

    def __init__(self, *outcomes: KafkaError | str | None) -> None:
        self.outcomes = list(outcomes)
        self.produced: list[str] = []
        self.queued: list[Report] = []

    def produce(self, topic: str, *, on_delivery: Report, **_: Any) -> None:
        self.produced.append(topic)
        self.queued.append(on_delivery)

    def flush(self, timeout: float) -> int:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, KafkaError):
            self.queued.pop(0)(outcome, None)
        elif outcome is None:
            self.queued.pop(0)(None, None)
        return len(self.queued)


@pytest.fixture
def speaker(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Speaker:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    monkeypatch.setenv("DISCORD_API_BASE", "http://127.0.0.1:1/api/v10")
    monkeypatch.setattr("kelery.discord_speaker.speaker.FIRST_RETRY_SECONDS", 0.001)
    settings = SpeakerSettings(SPEAKER_RETRY_MAX_SECONDS=0.01, speak_topic="speak")

    async def never(_: Any) -> None:
        raise AssertionError("nothing is posted here")

    return Speaker(settings, never, asyncio.Event())


RECORD = Message(topic="speak", partition=0, offset=7, key=None, value=b"{not json")


async def test_a_flush_without_report_waits_for_that_copy_instead_of_producing_another(
    speaker: Speaker,
) -> None:
    producer = _SlowProducer("none", "none", None)
    speaker._producer = producer  # type: ignore[assignment]
    await speaker._dead_letter(RECORD, "not JSON")
    assert producer.produced == ["speak.dlq"]  # one copy, not three
    assert speaker.stats.dead_lettered == 1


async def test_a_failed_copy_is_produced_again(speaker: Speaker) -> None:
    producer = _SlowProducer(KafkaError(KafkaError._MSG_TIMED_OUT), None)
    speaker._producer = producer  # type: ignore[assignment]
    await speaker._dead_letter(RECORD, "not JSON")
    assert producer.produced == ["speak.dlq", "speak.dlq"]
    assert speaker.stats.dead_lettered == 1


async def test_a_failed_asynchronous_commit_is_logged(
    speaker: Speaker, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="kelery.discord_speaker.speaker"):
        await speaker._on_commit(None, [TopicPartition("speak", 0, 8)])
        assert not caplog.records
        await speaker._on_commit(
            KafkaError(KafkaError.REBALANCE_IN_PROGRESS), [TopicPartition("speak", 0, 8)]
        )
    assert "commit of speak[0]@8 failed" in caplog.text
