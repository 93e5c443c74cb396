"""The errors the Kafka transport raises on purpose."""

from __future__ import annotations

from kombu.exceptions import KombuError

from kelery.common.errors import KeleryError
from kelery.common.reachability import KafkaUnreachableError


class PublishError(KeleryError, KombuError):
    """The broker finally refused a published message (after librdkafka's retries).

    Raised in the publishing process: by the publish itself with
    ``confirm_publish=True``; otherwise refusals are remembered per process (not
    per channel) and raised by the next publish of that process, on any channel,
    made after the refusal's delivery report arrived, or by
    :func:`~kelery.tasks.transport.confirm_published`, which waits for the reports.
    Closing a connection never raises (it logs what is unconfirmed), so a caller
    that must know before moving on calls ``confirm_published``.
    """


class BrokerUnavailableError(KafkaUnreachableError, ConnectionError):
    """No broker of the URL answered a metadata request within ``connect_timeout``.

    A ``ConnectionError`` too, so kombu and Celery treat it as a connection to retry.
    """
