"""The speaker's loop: speak topic in, Discord posts out, offsets committed after.

Records are handled one at a time, in order, on the event loop; the Kafka calls
themselves run in confluent-kafka's asyncio consumer (a small thread pool), so
the loop is never blocked by a poll. For each record:

1. decode it as a SpeakMessage and plan its posts (channel, parts, nonces);
   what can never be posted goes to ``<speak topic>.dlq`` with the reason;
2. post each part; Discord answering 403/404 (or any other refusal) sends the
   record to the DLQ and the speaker goes on; a network error, 5xx or an
   exhausted 429 retries the same part with backoff (the nonce makes the retry
   safe), for as long as it takes or until a stop is asked for;
3. only then commit the record's offset (asynchronously, a failure is logged from
   ``on_commit``; the last offsets are committed synchronously on revoke and on stop).

A DLQ copy is produced again only after its delivery report says it failed, never
while it may still be queued, so the DLQ does not get duplicate copies.

A stop in the middle of a record leaves its offset uncommitted, so it is posted
again on the next start, where ``enforce_nonce`` turns the repeat into a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.aio import AIOConsumer

from kelery.common.dlq import dead_letter, dlq_topic_for
from kelery.common.errors import InvalidMessageError, KeleryError
from kelery.common.kafka_config import client_config
from kelery.common.schemas import decode_speak_message
from kelery.common.topics import ensure_topics
from kelery.discord_speaker.poster import classify_failure
from kelery.discord_speaker.posts import PlannedPost, UndeliverableError, plan_posts
from kelery.discord_speaker.settings import SpeakerSettings

log = logging.getLogger(__name__)

STAGE = "speaker"
FIRST_RETRY_SECONDS = 0.5
DLQ_FLUSH_SECONDS = 30.0

PostFn = Callable[[PlannedPost], Awaitable[Any]]


class SpeakerFatalError(KeleryError):
    """The speaker cannot go on (bad token, unexpected error); nothing was committed past it."""


@dataclass
class SpeakerStats:
    """What this speaker did since it started, for logs and the exit summary."""

    posted_messages: int = 0
    posted_parts: int = 0
    dead_lettered: int = 0
    retries: int = 0


@dataclass
class _DeliveryReport:
    """The one delivery report of one produced record."""

    reported: bool = False
    error: KafkaError | None = None

    def __call__(self, error: KafkaError | None, _message: Message) -> None:
        self.reported, self.error = True, error

    @property
    def delivered(self) -> bool:
        return self.reported and self.error is None


class _Stopping(Exception):  # noqa: N818 - a control-flow signal, not an error
    """A stop was asked for while a record was unfinished; leave it uncommitted."""


class Speaker:
    """Consumes the speak topic and posts each message with ``post``."""

    def __init__(self, settings: SpeakerSettings, post: PostFn, stop: asyncio.Event) -> None:
        self.settings = settings
        self.stats = SpeakerStats()
        self._post = post
        self._stop = stop
        self._topic = settings.speak_topic
        self._dlq_topic = dlq_topic_for(settings.speak_topic)
        self._done: dict[tuple[str, int], int] = {}
        self._consumer: AIOConsumer | None = None
        self._producer: Producer | None = None

    async def run(self) -> None:
        """Run until ``stop`` is set; raises SpeakerFatalError if it cannot go on."""
        kafka = self.settings.kafka
        admin = AdminClient(client_config(kafka, "admin"))
        try:
            await asyncio.to_thread(ensure_topics, admin, [self._topic, self._dlq_topic])
        except KafkaException as exc:
            raise SpeakerFatalError(
                f"cannot prepare topics {self._topic} and {self._dlq_topic} on "
                f"{kafka.bootstrap} (KAFKA_BOOTSTRAP_SERVERS): {exc}"
            ) from exc
        overrides: dict[str, Any] = {
            "group.id": self.settings.group_id,
            "on_commit": self._on_commit,
        }
        if self.settings.instance_id is not None:
            overrides["group.instance.id"] = self.settings.instance_id
        # Two workers: a rebalance callback commits from inside a running poll.
        consumer = AIOConsumer(client_config(kafka, "consumer", **overrides), max_workers=2)
        self._consumer = consumer
        self._producer = Producer(client_config(kafka, "producer"))
        try:
            await consumer.subscribe(
                [self._topic], on_assign=self._on_assign, on_revoke=self._on_revoke
            )
            log.info("speaking from %s (group %s)", self._topic, self.settings.group_id)
            await self._loop(consumer)
        finally:
            await self._commit_done(synchronous=True)
            await consumer.close()
            await asyncio.to_thread(self._producer.flush, DLQ_FLUSH_SECONDS)
            log.info(
                "speaker stopped: %d messages posted (%d parts), %d dead-lettered",
                self.stats.posted_messages,
                self.stats.posted_parts,
                self.stats.dead_lettered,
            )

    async def _loop(self, consumer: AIOConsumer) -> None:
        while not self._stop.is_set():
            record: Message | None = await consumer.poll(self.settings.poll_timeout_seconds)
            if record is None:
                continue
            error = record.error()
            if error is not None:
                if error.fatal():
                    raise SpeakerFatalError(f"Kafka consumer failed: {error.str()}")
                log.warning("consumer: %s", error.str())
                continue
            try:
                await self._handle(record)
            except _Stopping:
                log.info("stopping with offset %s uncommitted; it is posted again", record.offset())
                return
            await self._finish(consumer, record)

    async def _handle(self, record: Message) -> None:
        try:
            message = decode_speak_message(record.value())
            posts = plan_posts(
                message,
                default_channel=self.settings.discord.announcement_channel_id,
                allowed_mentions=self.settings.allowed_mentions,
            )
        except (InvalidMessageError, UndeliverableError) as exc:
            await self._dead_letter(record, str(exc))
            return
        for index, post in enumerate(posts):
            refused = await self._post_until_done(post)
            if refused is not None:
                where = f" (part {index + 1} of {len(posts)})" if len(posts) > 1 else ""
                await self._dead_letter(record, refused + where)
                return
        self.stats.posted_messages += 1
        log.debug("posted %s to %s in %d part(s)", message.uuid, posts[0].channel_id, len(posts))

    async def _post_until_done(self, post: PlannedPost) -> str | None:
        """Post until Discord accepts (None) or refuses for good (the reason)."""
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                await self._post(post)
            except Exception as exc:  # every failure is classified below
                kind, reason = classify_failure(exc)
                if kind == "rejected":
                    log.warning("discord refused a post to %s: %s", post.channel_id, reason)
                    return reason
                if kind == "fatal":
                    raise SpeakerFatalError(reason) from exc
                self.stats.retries += 1
                log.warning("post to %s failed, retry in %.1fs: %s", post.channel_id, delay, reason)
                await self._sleep_or_stop(delay)
                delay = min(delay * 2, self.settings.retry_max_seconds)
            else:
                self.stats.posted_parts += 1
                return None

    async def _sleep_or_stop(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        if self._stop.is_set():
            raise _Stopping

    async def _dead_letter(self, record: Message, reason: str) -> None:
        """Copy ``record`` to the DLQ and wait until the broker has it.

        A copy is produced again only after librdkafka reported the previous one
        failed. A flush that ends without any report means that copy is still
        queued (Kafka slow or away): producing another would put two copies in the
        DLQ once Kafka answers, so the speaker keeps waiting for that report.
        """
        assert self._producer is not None  # noqa: S101 - set in run()
        delay = FIRST_RETRY_SECONDS
        report = self._produce_dead_letter(record, reason)
        while True:
            await asyncio.to_thread(self._producer.flush, DLQ_FLUSH_SECONDS)
            if not report.reported:
                log.warning(
                    "dead-letter copy of offset %s not acknowledged yet; waiting for it",
                    record.offset(),
                )
                await self._sleep_or_stop(delay)
                delay = min(delay * 2, self.settings.retry_max_seconds)
                continue
            if report.delivered:
                self.stats.dead_lettered += 1
                log.warning(
                    "dead-lettered %s[%s]@%s to %s: %s",
                    record.topic(),
                    record.partition(),
                    record.offset(),
                    self._dlq_topic,
                    reason,
                )
                return
            why = report.error.str() if report.error is not None else "unknown error"
            log.error("could not dead-letter offset %s (%s); retrying", record.offset(), why)
            await self._sleep_or_stop(delay)
            delay = min(delay * 2, self.settings.retry_max_seconds)
            report = self._produce_dead_letter(record, reason)

    def _produce_dead_letter(self, record: Message, reason: str) -> _DeliveryReport:
        """Enqueue one DLQ copy of ``record``; its delivery report lands in the result."""
        assert self._producer is not None  # noqa: S101 - set in run()
        report = _DeliveryReport()
        dead_letter(
            self._producer,
            record,
            reason,
            stage=STAGE,
            dlq_topic=self._dlq_topic,
            on_delivery=report,
        )
        return report

    async def _finish(self, consumer: AIOConsumer, record: Message) -> None:
        """Remember the record as done and commit it, after the optional test delay."""
        topic, partition, offset = record.topic(), record.partition(), record.offset()
        assert topic is not None  # noqa: S101 - a consumed record always has these
        assert partition is not None  # noqa: S101
        assert offset is not None  # noqa: S101
        self._done[(topic, partition)] = offset + 1
        if self.settings.commit_delay_seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.commit_delay_seconds)
        try:
            await consumer.commit(
                offsets=[TopicPartition(topic, partition, offset + 1)], asynchronous=True
            )
        except KafkaException as exc:
            log.warning(
                "commit of %s[%d]@%d failed (retried later): %s", topic, partition, offset, exc
            )

    async def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """Log a failed commit: an asynchronous one raises nowhere, it only reports here.

        Nothing is lost: the offsets stay in ``_done`` and are committed again
        (synchronously) on revoke and on stop; until then a restart posts those
        records again, where the nonce makes the repeat a no-op.
        """
        failed = [p for p in partitions if p.error is not None]
        if error is None and not failed:
            return
        cause = error if error is not None else failed[0].error
        log.warning(
            "commit of %s failed (retried on revoke or stop, else reposted as a no-op): %s",
            ", ".join(f"{p.topic}[{p.partition}]@{p.offset}" for p in failed or partitions),
            cause.str() if cause is not None else "unknown error",
        )

    async def _commit_done(
        self, *, synchronous: bool, only: set[tuple[str, int]] | None = None
    ) -> None:
        if self._consumer is None:
            return
        keys = [key for key in self._done if only is None or key in only]
        if not keys:
            return
        offsets = [TopicPartition(t, p, self._done[(t, p)]) for t, p in keys]
        try:
            await self._consumer.commit(offsets=offsets, asynchronous=not synchronous)
        except KafkaException as exc:
            log.error("commit failed (those records will be posted again): %s", exc)  # noqa: TRY400
            return
        for key in keys:
            self._done.pop(key, None)

    async def _on_assign(self, _consumer: AIOConsumer, partitions: list[TopicPartition]) -> None:
        """Log which partitions this speaker now posts from."""
        log.info("assigned partitions %s", sorted(p.partition for p in partitions))

    async def _on_revoke(self, _consumer: AIOConsumer, partitions: list[TopicPartition]) -> None:
        """Commit what was posted from partitions this speaker is about to lose."""
        await self._commit_done(synchronous=True, only={(p.topic, p.partition) for p in partitions})
        log.info(
            "revoked partitions %s (posted offsets committed)",
            sorted(p.partition for p in partitions),
        )
