"""The errors the Kafka transport raises on purpose."""

from __future__ import annotations

from kombu.exceptions import KombuError

from kelery.common.errors import KeleryError


class PublishError(KeleryError, KombuError):
    """The broker finally refused a published message (after librdkafka's retries).

    Raised in the publishing caller: by the publish itself with
    ``confirm_publish=True``, otherwise by the next publish (or close) on the same
    channel, so a failed task message never vanishes without an exception.
    """


class BrokerUnavailableError(KeleryError, ConnectionError):
    """No broker of the URL answered a metadata request within ``connect_timeout``."""
