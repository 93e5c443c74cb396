"""Celery on Kafka: a kombu transport that fixes kombu's experimental one.

Features
========
* Type: Virtual (kombu's virtual transport, driven by consumer threads)
* Supports Direct: Yes (a queue is a topic with N partitions)
* Supports Topic: Yes (broadcast, matched per process)
* Supports Fanout: Yes (broadcast topics: pidbox, events, ``celery inspect``,
  ``celery control``, ``celery events``, Flower)
* Supports Priority: No. Kafka has no message priority; ``priority`` is carried
  as a property but does not change the order of delivery.
* Supports TTL: No. Kafka has no per-message expiry; topics keep records for the
  topic's ``retention.ms``. (Celery's own ``expires`` on a task still works: the
  worker discards an expired task when it receives it.)

Selecting it
============
kombu 5.7 maps ``kafka://`` and ``confluentkafka://`` to *its own* transport, so
ours is selected explicitly and can never be replaced silently:

- the URL schemes ``kelery+kafka://`` and ``kelery://`` name the kombu alias
  ``kelery``, which only exists once this package is imported; without the import
  kombu fails with ``No such transport: kelery`` instead of picking another
  transport;
- ``broker_transport = "kelery.tasks.transport:Transport"`` selects it by class
  path even for a ``kafka://`` URL.

:func:`celery_config` returns both (and the options) for a Celery app::

    app.conf.update(celery_config(load_settings(KafkaSettings), partitions=12))

:func:`celery_broker_config` is the one place a ``CELERY_BROKER_URL`` setting
becomes Celery's broker settings (the worker, beat and ``kelery-consume`` use it):
empty, ``kafka://``, ``kelery://`` and ``kelery+kafka://`` all mean this transport; any other
scheme (``confluentkafka://`` included, kombu's own Kafka transport chosen by
name) is used as given.

Connection string
=================
``kelery+kafka://HOST:PORT[,HOST:PORT...]``: every broker of the cluster in one
URL (``kafka://`` with ``broker_transport`` works too). kombu hands this URL to
the transport whole.

``kelery://HOST[:PORT]``: one broker per URL, which kombu parses itself as it does
``amqp://``, so ``Connection.hostname``/``port`` are filled in and kombu's
failover alternates work: ``kelery://a:9092;kelery://b:9092`` connects to the
first broker that answers (Kafka then learns the whole cluster from it). kombu
cannot parse a comma list here (``kelery://a:9092,b:9092`` fails in kombu with
"Port could not be cast"); use ``kelery+kafka://`` for that.
:func:`celery_broker_config` turns any of these into ``kelery+kafka://``.

The URL only lists brokers; credentials in the URL are refused.
Security (SASL/SSL), client id, acks and any librdkafka setting come from
kelery-common's ``KafkaSettings`` (``KAFKA_*`` environment, or the
``kafka_settings`` option); every client config is built by
``kelery.common.kafka_config.client_config``: idempotent producer with
``acks=all``, consumers that never auto-commit, librdkafka's own log lines on
the ``kelery.librdkafka`` logger (so in the worker's log, not raw on stderr).
A publish waits up to ``KAFKA_LINGER_MS`` (5 ms by default, as librdkafka's and
Kafka's Java client's) for companions to share its batch: tasks keyed by id land
on every partition, and with a 1 ms linger most batches held one record; measured
on a 2-core machine, that took the broker half as much CPU again per task and
publishers about 10 % of their rate. Set it lower for the least publish-to-execute latency.

Transport options (``broker_transport_options``)
================================================
* ``kafka_settings``: a ``KafkaSettings``; default: read ``KAFKA_*`` from the environment.
* ``topic_prefix`` (``""``): prepended to every topic name (queues, broadcasts, DLQs).
* ``group_id`` (``"kelery-workers"``): the consumer group all workers share.
* ``partitions`` (``12``): partitions of a queue topic this transport creates.
* ``replication_factor`` (``-1``, the broker's default) and ``topic_config`` (``{}``).
* ``confirm_publish`` (``False``): wait for the broker's acknowledgement in every
  publish; ``confirm_timeout`` (``30``) bounds the wait.
* ``poll_timeout`` (``0.1`` s): the consumer thread's blocking poll (the longest a
  commit or shutdown waits; a record wakes it at once).
* ``commit_interval`` (``0.2`` s): how often acked offsets are committed.
* ``max_buffered`` (``1000``): records fetched ahead per channel before pausing.
* ``connect_timeout`` (``10`` s; kombu's ``connect_timeout`` wins), ``close_timeout`` (``10`` s).
* ``get_timeout`` (``10`` s): the longest ``basic_get`` waits to learn whether a
  queue has a record (first subscription, end offsets).
* ``producer_config``, ``consumer_config``, ``admin_config``: librdkafka overrides,
  passed to ``client_config``.

How kombu maps onto Kafka
=========================
* Queue ``q`` is the topic ``<prefix>q`` (created with ``partitions``); all
  workers read it in one consumer group, so they share its partitions.
* A record's value is the body exactly as serialised; headers and properties
  are Kafka headers (:mod:`kelery.tasks.transport.records`,
  ``docs/kafka-transport.md``).
* Publishing never flushes; delivery reports arrive through callbacks. A message
  the broker finally refuses raises :class:`PublishError` in the same publish with
  ``confirm_publish=True``; otherwise the refusal is remembered for the process and
  raised by its next publish (any channel) once the report arrived, or by
  :func:`confirm_published`. Closing never raises.
* A process's exit waits (up to ``close_timeout``) for its unconfirmed publishes,
  so a script that calls ``task.delay()`` and ends, or a prefork child that is
  recycled, does not take its last tasks down with it; any still unconfirmed
  then are logged as an error. A process done with Kafka before it exits calls
  :func:`kelery.tasks.transport.producer.close_producers` to flush and drop them.
* Closing a connection stops its readers, broadcast thread and admin client.
* Acks commit, per partition, the offset below which every record is acked;
  commits also happen on revoke and close. Unacked records are redelivered
  after a crash or rebalance (at-least-once: a task may run twice, none is lost).
* ``reject(requeue=False)`` sends the record to ``<topic>.dlq`` with
  kelery-common's DLQ headers; ``reject(requeue=True)`` appends a copy to the
  topic. A record without ``content-type`` is dead-lettered before Celery sees it.
* Fanout and topic exchanges, and direct publishes whose binding is in another
  process (remote-control replies), go to ``<prefix>kelery.broadcast.<exchange>``
  (one partition, one hour retention); every process reads the broadcast topics
  its queues are bound to, from the moment of binding, without a group.
* Replies work, so Celery's ``rpc://`` result backend does: a transient
  (auto-delete or exclusive) queue is fed from ``<prefix>kelery.replies``, the
  nameless exchange's broadcast topic, from its declaration until it is bound to a
  named exchange. A nameless-exchange publish goes there when its routing key
  names a transient queue of this process, or a queue this process never declared
  and the cluster has no topic for (the pool child that publishes a ``rpc://``
  result never declares the caller's queue); otherwise to the queue's topic. No
  topic is created per caller.

Limits
======
* No priority and no per-message TTL (see above); ``message_count`` of a queue
  is reported as 0.
* ``queue_purge`` (``celery purge``) deletes the queue topic's records up to its
  end with Kafka's DeleteRecords, for every consumer of the topic, and returns
  how many the workers' group had not consumed; tasks a worker already fetched
  still run (:mod:`kelery.tasks.transport.purge`).
* Ordering holds per partition only.
* A task held for a long countdown/ETA stays unacked, so its partition's commit
  point waits for it; a restart meanwhile re-runs the tasks acked after it in that
  partition. Give long-countdown tasks a queue of their own.
* Broadcast queues are in memory: a process gets broadcasts published after it
  bound its queue, not earlier ones, and loses what it held when it stops.
* Every process with a ``rpc://`` result queue reads every reply on the reply
  topic and keeps its own: fine for results, not a bulk channel.
* A nameless-exchange publish to a durable queue that nobody declared yet (no
  topic) counts as a reply: declare queues before publishing to them, as
  Celery's ``send_task`` and kombu's ``declare=`` do.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import TRANSPORT_ALIASES

from kelery.common.errors import SettingsError
from kelery.common.settings import KafkaSettings
from kelery.tasks.transport.errors import BrokerUnavailableError, PublishError
from kelery.tasks.transport.options import (
    SCHEMES,
    TransportOptions,
    brokers_from_url,
    load_options,
)
from kelery.tasks.transport.producer import flush_all, raise_failures
from kelery.tasks.transport.transport import Transport

TRANSPORT_PATH = "kelery.tasks.transport:Transport"
SCHEME = "kelery+kafka"
URL_PARSED_TRANSPORT_PATH = "kelery.tasks.transport.transport:UrlParsedTransport"

# ``kelery://`` and the ``kelery`` of ``kelery+kafka://`` (see UrlParsedTransport).
TRANSPORT_ALIASES.setdefault("kelery", URL_PARSED_TRANSPORT_PATH)
# kombu's failover (``Connection.switch``) resolves an alternate URL's whole scheme.
TRANSPORT_ALIASES.setdefault(SCHEME, TRANSPORT_PATH)

__all__ = [
    "SCHEME",
    "TRANSPORT_PATH",
    "URL_PARSED_TRANSPORT_PATH",
    "BrokerUnavailableError",
    "PublishError",
    "Transport",
    "TransportOptions",
    "broker_url",
    "celery_broker_config",
    "celery_config",
    "confirm_published",
    "uses_this_transport",
]


def broker_url(kafka: KafkaSettings) -> str:
    """``kelery+kafka://h1:9092,h2:9092`` for ``kafka``'s brokers."""
    return f"{SCHEME}://{','.join(kafka.bootstrap_servers)}"


def celery_config(kafka: KafkaSettings, **options: Any) -> dict[str, Any]:
    """The Celery settings that put an app on this transport.

    Returns ``broker_url``, ``broker_transport`` and ``broker_transport_options``
    (``options`` validated now, so a typo fails at start naming the option, plus
    ``kafka_settings=kafka``).
    """
    unknown = sorted(set(options) - set(TransportOptions.model_fields))
    if unknown:
        raise SettingsError(f"unknown Kafka transport option(s): {', '.join(unknown)}")
    validated = load_options({**options, "kafka_settings": kafka})
    return {
        "broker_url": broker_url(kafka),
        "broker_transport": TRANSPORT_PATH,
        "broker_transport_options": {
            **validated.model_dump(exclude_defaults=True, exclude={"kafka_settings"}),
            "kafka_settings": kafka,
        },
    }


def uses_this_transport(url: str | None) -> bool:
    """True if ``url`` (a CELERY_BROKER_URL; empty means the default) selects this transport."""
    return not url or url.partition("://")[0] in SCHEMES


def celery_broker_config(url: str | None, kafka: KafkaSettings, **options: Any) -> dict[str, Any]:
    """Celery's broker settings for a ``CELERY_BROKER_URL`` value and transport options.

    - empty: this transport on ``kafka``'s brokers;
    - ``kafka://``, ``kelery://`` or ``kelery+kafka://``: this transport on the URL's brokers (with
      ``kafka``'s security settings). ``broker_transport`` is always set, because
      kombu 5.7 would otherwise run ``kafka://`` on its own transport, silently;
    - any other scheme: used as given, ``options`` as its transport options.
    """
    if not uses_this_transport(url):
        return {"broker_url": url, "broker_transport_options": dict(options)}
    servers = brokers_from_url(url) if url else []
    if servers:  # ``kafka://`` alone: the settings' brokers
        kafka = kafka.model_copy(update={"bootstrap_servers": servers})
    return celery_config(kafka, **options)


def confirm_published(timeout: float = 30.0) -> None:
    """Wait until Kafka acknowledged every message this process published.

    For a caller that must know its tasks are durably enqueued before it moves
    on (the consumer commits its input offset after this). Raises PublishError
    for messages the broker refused, or that are still unconfirmed at ``timeout``.
    """
    remaining = flush_all(timeout)
    raise_failures()
    if remaining:
        raise PublishError(f"{remaining} published message(s) not confirmed within {timeout}s")
