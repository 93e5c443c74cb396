"""The produce loop's bookkeeping, on a stand-in producer (pure logic; the real thing is
covered end to end in test_produce_integration.py)."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, KafkaException

from kelery.common.delivery import DeliveryTracker
from kelery.common.runtime import GracefulShutdown
from kelery.producer.envelope import EnvelopeBuilder
from kelery.producer.messages import chunked, repeated
from kelery.producer.run import ProduceLoop
from kelery.producer.sources import RawPayload


class StandInMessage:
    def __init__(self, value: bytes) -> None:
        self._value = value

    def topic(self) -> str:
        return "t"

    def key(self) -> None:
        return None


class StandInProducer:
    """Accepts records; confirms them on poll unless ``stuck``; can refuse some or fill up."""

    def __init__(self, *, stuck: bool = False, refuse: bytes | None = None, full_every: int = 0):
        self.pending: list[tuple[bytes, Any]] = []
        self.stuck = stuck
        self.refuse = refuse
        self.full_every = full_every
        self.calls = 0
        self.purged = False

    def produce(self, topic: str, value: bytes, key: Any = None, **kw: Any) -> None:
        self.calls += 1
        if self.full_every and self.calls % self.full_every == 0:
            raise BufferError("queue full")
        if value == self.refuse:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        self.pending.append((value, kw["on_delivery"]))

    def produce_batch(self, topic: str, records: list[dict[str, Any]], **kw: Any) -> int:
        """Like confluent-kafka's: failures are marked with ``_error``, not raised."""
        accepted = 0
        for record in records:
            try:
                self.produce(topic, record["value"], record["key"], **kw)
            except BufferError:
                record["_error"] = KafkaError(KafkaError._QUEUE_FULL)
            except KafkaException as exc:
                record["_error"] = exc.args[0]
            else:
                accepted += 1
        return accepted

    def poll(self, _timeout: float = 0) -> int:
        served = 0
        if not self.stuck or self.purged:
            error = KafkaError(KafkaError._PURGE_QUEUE) if self.purged else None
            for value, callback in self.pending:
                callback(error, StandInMessage(value))
                served += 1
            self.pending.clear()
        return served

    def flush(self, timeout: float = 0) -> int:
        self.poll(timeout)
        return len(self.pending)

    def purge(self) -> None:
        self.purged = True

    def __len__(self) -> int:
        return len(self.pending)


def loop_for(producer: StandInProducer, flush_timeout: float = 0.05) -> ProduceLoop:
    return ProduceLoop(
        producer,  # type: ignore[arg-type]
        "t",
        tracker=DeliveryTracker(),
        stop=GracefulShutdown(),
        flush_timeout=flush_timeout,
    )


def chunks(*values: bytes, rounds: int = 1) -> Any:
    builder = EnvelopeBuilder(source="s")
    templates = [builder.compile(RawPayload(v)) for v in values]
    return chunked(repeated(templates, rounds), builder, size=4)


def test_everything_confirmed() -> None:
    result = loop_for(StandInProducer()).run_chunks(chunks(b"a", b"b", rounds=5))
    assert (result.produced, result.delivered, result.failed, result.ok) == (10, 10, 0, True)


def test_full_queue_is_retried_not_dropped() -> None:
    producer = StandInProducer(full_every=3)
    result = loop_for(producer).run_chunks(chunks(b"a", rounds=20))
    assert (result.produced, result.delivered) == (20, 20)
    assert producer.calls > 20


def test_refused_records_count_as_failed() -> None:
    result = loop_for(StandInProducer(refuse=b"big")).run_chunks(chunks(b"ok", b"big", rounds=2))
    assert (result.delivered, result.failed, result.attempted, result.ok) == (2, 2, 4, False)
    assert result.errors[0] == "t: Broker: Message size too large"


def test_unconfirmed_after_the_flush_timeout_are_purged_and_counted_failed() -> None:
    result = loop_for(StandInProducer(stuck=True)).run_chunks(chunks(b"a", b"b", b"c"))
    assert (result.produced, result.delivered, result.failed) == (3, 0, 3)


def test_a_stop_request_ends_the_loop_after_the_chunk_and_drains_it() -> None:
    stop = GracefulShutdown()

    class StoppingProducer(StandInProducer):
        def produce(self, topic: str, value: bytes, key: Any = None, **kw: Any) -> None:
            super().produce(topic, value, key, **kw)
            if self.calls == 6:
                stop.request("SIGTERM")

    loop = ProduceLoop(
        StoppingProducer(stuck=False),  # type: ignore[arg-type]
        "t",
        tracker=DeliveryTracker(),
        stop=stop,
        flush_timeout=1,
    )
    result = loop.run_chunks(chunks(b"a", rounds=100))
    assert (result.complete, result.stopped_by) == (False, "SIGTERM")
    assert result.produced == result.delivered == 8  # the chunk in hand (4 per chunk) finishes


def test_with_headers_each_record_is_produced_and_refusals_counted() -> None:
    producer = StandInProducer(refuse=b"big", full_every=4)
    loop = ProduceLoop(
        producer,  # type: ignore[arg-type]
        "t",
        tracker=DeliveryTracker(),
        stop=GracefulShutdown(),
        flush_timeout=1,
        headers=[("h", b"v")],
    )
    result = loop.run_chunks(chunks(b"a", b"big", rounds=3))
    assert (result.produced, result.delivered, result.failed) == (3, 3, 3)
