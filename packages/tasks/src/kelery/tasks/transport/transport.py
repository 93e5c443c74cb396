"""The kombu Transport: one per kombu Connection, owning clients, topics and the wait.

It validates the options, builds every librdkafka config through kelery-common's
``client_config``, creates topics with ``ensure_topics`` (cached per process),
owns the process's broadcast hub, and implements ``drain_events`` as a wait on
an event the consumer threads set, so a record is handed to Celery as soon as it
arrives (no ``polling_interval`` sleep, no 5-second blocking poll).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Any, cast

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from kombu.transport import virtual
from kombu.transport.virtual.base import BrokerState
from kombu.transport.virtual.exchange import STANDARD_EXCHANGE_TYPES

from kelery.common.errors import SettingsError
from kelery.common.kafka_config import client_config
from kelery.common.reachability import KafkaUnreachableError, require_cluster
from kelery.common.topics import TopicSpec, ensure_topics
from kelery.tasks.transport.broadcast import BroadcastHub
from kelery.tasks.transport.channel import Channel
from kelery.tasks.transport.errors import BrokerUnavailableError, PublishError
from kelery.tasks.transport.group_reader import GroupReader
from kelery.tasks.transport.options import check_topic_name, kafka_settings_for, load_options
from kelery.tasks.transport.producer import flush_all, generation, shared_producer
from kelery.tasks.transport.purge import purge_topic

log = logging.getLogger(__name__)

BROADCAST_TOPIC_FORMAT = "{prefix}kelery.broadcast.{exchange}"
#: The broadcast topic of the default (nameless) exchange: replies to transient
#: queues, such as the results of Celery's ``rpc://`` backend.
REPLY_TOPIC_FORMAT = "{prefix}kelery.replies"
BROADCAST_RETENTION_MS = str(60 * 60 * 1000)
#: How long "no topic for this queue: a reply" is believed before asking again.
REPLY_VERDICT_TTL_S = 5.0

_known_topics: set[tuple[int, str, str]] = set()
_known_lock = threading.Lock()


def _accepts_tcp(server: str, timeout: float) -> bool:
    """True if ``host:port`` accepts a TCP connection within ``timeout``."""
    host, _, port = server.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError:
        return False
    return True


class Transport(virtual.Transport):
    """Celery/kombu on Kafka; see :mod:`kelery.tasks.transport` for features and options."""

    Channel = Channel
    state: BrokerState
    can_parse_url = True
    default_port = 9092
    driver_type = "kafka"
    driver_name = "kelery-kafka"
    polling_interval = None
    implements = virtual.Transport.implements.extend(
        asynchronous=False,
        exchange_type=frozenset(["direct", "topic", "fanout"]),
        heartbeats=False,
    )
    connection_errors = (BrokerUnavailableError, KafkaException)
    channel_errors = (PublishError,)
    recoverable_connection_errors = (BrokerUnavailableError,)
    recoverable_channel_errors = ()

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self.options = load_options(dict(client.transport_options or {}))
        url = str(client.hostname or "")
        if "://" not in url and "," not in url and ":" not in url and client.port:
            url = f"{url}:{client.port}"  # kombu parsed the URL: host and port apart
        if getattr(client, "userid", None) or getattr(client, "password", None):
            raise SettingsError(
                "the Kafka broker URL must not carry credentials; set KAFKA_SASL_USERNAME "
                "and KAFKA_SASL_PASSWORD instead"
            )
        self.url = url
        self.kafka = kafka_settings_for(self.url, self.options)
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._admin: AdminClient | None = None
        self._hub: BroadcastHub | None = None
        self._transient: set[str] = set()
        self._broadcast_queues: set[str] = set()
        self._bindings: set[tuple[str, str]] = set()  # (queue, topic) fed by the hub
        self._reply_until: dict[str, float] = {}  # queue -> when to ask again
        self._exchange_types = {name: cls(None) for name, cls in STANDARD_EXCHANGE_TYPES.items()}
        self._channel_cursor = 0
        self._producer: Any = None
        self._queue_topics: dict[str, str] = {}
        self._producer_generation = -1
        self._confirming: Any = None
        self._confirming_generation = -1

    # -- kombu hooks ------------------------------------------------------------------
    def driver_version(self) -> str:
        """The confluent-kafka version."""
        import confluent_kafka  # noqa: PLC0415

        return str(confluent_kafka.version()[0])

    def as_uri(self, uri: str, include_password: bool = False, mask: str = "**") -> str:
        """The broker URL (it never holds credentials)."""
        servers = ",".join(self.kafka.bootstrap_servers)
        return f"kelery+kafka://{servers}"

    def establish_connection(self) -> Any:
        """Check that a broker answers, then hand kombu the transport."""
        timeout = self._connect_timeout()
        if not any(_accepts_tcp(server, timeout) for server in self.kafka.bootstrap_servers):
            # Fail fast (librdkafka would retry until the timeout), so kombu's
            # failover can move on to the next URL within its own deadline.
            raise BrokerUnavailableError(
                f"no Kafka broker of {self.kafka.bootstrap} accepts connections"
            )
        try:
            require_cluster(self.admin, self.kafka.bootstrap, timeout=timeout)
        except KafkaUnreachableError as exc:
            raise BrokerUnavailableError(str(exc)) from None
        return super().establish_connection()

    def close_connection(self, connection: Any) -> None:
        """Close channels (committing offsets) and stop the broadcast hub."""
        super().close_connection(connection)
        remaining = flush_all(self.options.close_timeout)
        if remaining:
            log.error("%d published message(s) still unconfirmed at close", remaining)
        hub, self._hub = self._hub, None
        if hub is not None:
            hub.close(self.options.close_timeout)
        # kombu may reuse this transport after a reconnect; until then a closed
        # connection keeps no admin client (threads, broker sockets) open
        self._admin = None

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:  # type: ignore[override]
        """Deliver one waiting record; wait for one (up to ``timeout``) when none is."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._wake.clear()
            channels = cast("list[Channel]", list(self.channels or ()))
            count = len(channels)
            for index in range(count):
                channel = channels[(self._channel_cursor + index) % count]
                if channel.deliver_one():
                    self._channel_cursor = (self._channel_cursor + index + 1) % max(count, 1)
                    return
            if deadline is None:
                self._wake.wait()
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self._wake.wait(remaining)

    def check_threads(self) -> None:
        """Raise a connection error if the broadcast thread died (Celery reconnects)."""
        hub = self._hub
        if hub is not None and hub.failure is not None:
            raise BrokerUnavailableError(f"Kafka broadcast thread failed: {hub.failure}")

    def deliver(self, payload: dict[str, Any], queue: str) -> None:
        """Hand a payload to the consumer callback of ``queue``."""
        self._deliver(payload, queue)

    def wake(self) -> None:
        """Make a waiting ``drain_events`` look again (a record arrived or capacity freed)."""
        self._wake.set()

    # -- clients ----------------------------------------------------------------------
    def _connect_timeout(self) -> float:
        timeout = getattr(self.client, "connect_timeout", None)
        return float(timeout) if timeout else self.options.connect_timeout

    @property
    def admin(self) -> AdminClient:
        """The admin client of this connection."""
        if self._admin is None:
            self._admin = AdminClient(
                client_config(self.kafka, "admin", **self.options.admin_config)
            )
        return self._admin

    def _producer_config(self, **extra: Any) -> dict[str, Any]:
        # KAFKA_LINGER_MS as for every Kelery producer (5 ms by default): tasks keyed by
        # id spread over the partitions, so a shorter linger sends one-record batches,
        # more work per task for the broker and librdkafka (see the module docstring).
        return client_config(self.kafka, "producer", **{**extra, **self.options.producer_config})

    @property
    def producer(self) -> Any:
        """The process's shared producer for publishes: delivery reports only on failure.

        Successful deliveries need no Python callback (publishing is fire-and-check);
        failures reach :func:`~kelery.tasks.transport.producer.record_failure`.
        """
        if self._producer_generation != generation():  # first use, a fork, close_producers
            self._producer = shared_producer(
                self._producer_config(**{"delivery.report.only.error": True}),
                exit_timeout=self.options.close_timeout,
            )
            self._producer_generation = generation()
        return self._producer

    @property
    def confirming_producer(self) -> Any:
        """A producer that reports every delivery: confirmed publishes, requeues, DLQ copies."""
        if self._confirming_generation != generation():
            self._confirming = shared_producer(
                self._producer_config(), exit_timeout=self.options.close_timeout
            )
            self._confirming_generation = generation()
        return self._confirming

    def new_group_reader(self) -> GroupReader:
        """A consumer thread in the shared group, for one channel."""
        config = client_config(
            self.kafka,
            "consumer",
            **{"group.id": self.options.group_id, **self.options.consumer_config},
        )
        return GroupReader(
            config,
            wake=self._wake,
            poll_timeout=self.options.poll_timeout,
            commit_interval=self.options.commit_interval,
            max_buffered=self.options.max_buffered,
            on_idle=self._serve_deliveries,
        )

    def _serve_deliveries(self) -> None:
        self.producer.poll(0)
        self.confirming_producer.poll(0)

    @property
    def has_hub(self) -> bool:
        """True once some queue is fed from a broadcast topic."""
        return self._hub is not None

    @property
    def hub(self) -> BroadcastHub:
        """The process's broadcast reader (started on first use)."""
        with self._lock:
            if self._hub is None:
                config = client_config(
                    self.kafka,
                    "consumer",
                    **{
                        **self.options.consumer_config,
                        "group.id": f"kelery-broadcast-{uuid.uuid4().hex}",
                        "auto.offset.reset": "latest",
                        "enable.auto.offset.store": False,
                    },
                )
                self._hub = BroadcastHub(
                    config,
                    admin=self.admin,
                    wake=self._wake,
                    match=self._match_broadcast,
                    poll_timeout=self.options.poll_timeout,
                    request_timeout=self._connect_timeout(),
                )
            return self._hub

    # -- topics and queues ------------------------------------------------------------
    def queue_topic_name(self, queue: str) -> str:
        """The topic that holds ``queue``'s messages."""
        return check_topic_name(self.options.topic_prefix + queue)

    def queue_topic(self, queue: str) -> str:
        """``queue``'s topic, created (with ``partitions``) if missing."""
        topic = self._queue_topics.get(queue)
        if topic is None:
            topic = self.ensure_topic(
                self.queue_topic_name(queue), partitions=self.options.partitions
            )
            self._queue_topics[queue] = topic
        return topic

    def broadcast_topic(self, exchange: str) -> str:
        """The broadcast topic of ``exchange``, created (one partition) if missing.

        The default exchange (``""``) has the reply topic.
        """
        prefix = self.options.topic_prefix
        name = (
            BROADCAST_TOPIC_FORMAT.format(prefix=prefix, exchange=exchange)
            if exchange
            else REPLY_TOPIC_FORMAT.format(prefix=prefix)
        )
        return self.ensure_topic(
            check_topic_name(name), partitions=1, config={"retention.ms": BROADCAST_RETENTION_MS}
        )

    def ensure_topic(
        self, topic: str, *, partitions: int, config: dict[str, str] | None = None
    ) -> str:
        """Create ``topic`` unless this process already knows it exists."""
        key = (os.getpid(), self.kafka.bootstrap, topic)
        if key in _known_topics:
            return topic
        spec = TopicSpec(
            topic,
            partitions=partitions,
            replication_factor=self.options.replication_factor,
            config={**self.options.topic_config, **(config or {})},
        )
        ensure_topics(self.admin, [spec], timeout=self._connect_timeout())
        with _known_lock:
            _known_topics.add(key)
        return topic

    def purge_queue(self, queue: str) -> int:
        """Delete ``queue``'s waiting tasks from its topic (see :mod:`.purge`)."""
        return purge_topic(
            self.admin,
            self.queue_topic_name(queue),
            self.options.group_id,
            timeout=self._connect_timeout(),
        )

    def topic_exists(self, topic: str) -> bool:
        """True if the cluster has ``topic``."""
        return topic in self.admin.list_topics(timeout=self._connect_timeout()).topics

    def mark_transient(self, queue: str) -> None:
        """``queue`` is auto-delete/exclusive: it lives in memory, fed by broadcasts."""
        self._transient.add(queue)

    def is_transient(self, queue: str) -> bool:
        """True for auto-delete/exclusive queues."""
        return queue in self._transient

    def is_broadcast_queue(self, queue: str) -> bool:
        """True if ``queue`` is fed by the broadcast hub rather than a queue topic."""
        return queue in self._broadcast_queues or queue in self._transient

    def bind_broadcast(self, queue: str, exchange: str) -> None:
        """Feed ``queue`` from ``exchange``'s broadcast topic from now on.

        Binding again changes nothing: the queue keeps every record since the
        first binding (Celery's ``rpc://`` backend declares its queue on every call).
        """
        self._broadcast_queues.add(queue)
        topic = self.broadcast_topic(exchange)
        if (queue, topic) in self._bindings:
            return
        self.hub.bind(queue, topic)
        self._bindings.add((queue, topic))

    def unbind_replies(self, queue: str) -> None:
        """``queue`` is bound to a named exchange: it is no reply queue, stop feeding it replies."""
        topic = self.broadcast_topic("")
        if (queue, topic) in self._bindings:
            self._bindings.discard((queue, topic))
            self.hub.unbind(queue, topic)

    def is_reply(self, queue: str) -> bool:
        """True if a nameless-exchange publish to ``queue`` belongs on the reply topic.

        That is a transient queue of this process, or one this process never
        declared and the cluster has no topic for: a reply queue of another
        process (the publisher of a ``rpc://`` result never declares the queue).
        A queue declared durable anywhere has a topic, so its messages never
        take this path; the verdict "no topic" is checked again after
        :data:`REPLY_VERDICT_TTL_S`.
        """
        if queue in self._transient:
            return True
        if queue in self._queue_topics:
            return False
        now = time.monotonic()
        if self._reply_until.get(queue, 0.0) > now:
            return True
        name = self.queue_topic_name(queue)
        if self.topic_exists(name):
            self._queue_topics[queue] = name
            self._reply_until.pop(queue, None)
            return False
        if len(self._reply_until) > 10_000:  # a bound on the cache, not a policy
            self._reply_until.clear()
        self._reply_until[queue] = now + REPLY_VERDICT_TTL_S
        return True

    def forget_queue(self, queue: str) -> None:
        """Forget a deleted queue (its topic, if any, is left alone)."""
        self._broadcast_queues.discard(queue)
        self._transient.discard(queue)
        self._bindings = {binding for binding in self._bindings if binding[0] != queue}
        if self._hub is not None:
            self._hub.forget(queue)

    def _match_broadcast(self, exchange: str, routing_key: str) -> set[str]:
        """Local queues bound to ``exchange`` that ``routing_key`` reaches (any thread).

        The default exchange reaches the transient queue named by the routing key.
        """
        if not exchange:
            return {routing_key} if routing_key in self._transient else set()
        meta = (self.state.exchanges or {}).get(exchange)
        if meta is None:
            return set()
        kind = self._exchange_types.get(meta.get("type") or "direct")
        if kind is None:
            return set()
        table = list(meta.get("table") or ())
        return set(kind.lookup(table, exchange, routing_key, None))


class UrlParsedTransport(Transport):
    """The same transport for ``kelery://HOST:PORT`` URLs, which kombu parses itself.

    A transport that parses its own URL (``can_parse_url``) gets the URL whole, so
    ``kelery+kafka://h1,h2`` can list several brokers; but then kombu never fills
    ``Connection.hostname``/``port``, and its failover (``Connection.switch``)
    re-parses alternates anyway. This class is what the kombu alias ``kelery``
    names: for ``kelery://host:port`` kombu parses host and port as it does for
    ``amqp://``, so ``Connection.port`` and failover between alternates
    (``kelery://a:9092;kelery://b:9092``) behave as kombu documents. A
    ``kelery+kafka://`` URL is split by kombu at the ``+`` and never parsed, so
    it reaches the transport whole whichever class the alias names.
    """

    can_parse_url = False

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        # kombu reads the class attribute in Connection.__init__ (to parse the URL or
        # not) and the instance's in Connection.as_uri (to ask us or not): ours never
        # shows a password and copes with a broker list kombu's URL parser rejects.
        self.can_parse_url = True
