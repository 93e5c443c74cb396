"""The typed errors kelery-common raises, in one place so callers can catch them by kind."""

from __future__ import annotations


class KeleryError(Exception):
    """Base of every error Kelery raises on purpose."""


class SettingsError(KeleryError):
    """A setting is missing or invalid; the message names the environment variable(s).

    Raised at start-up so a misconfigured process fails before it touches Kafka,
    with a message a person can act on instead of a pydantic traceback.
    """


class InvalidMessageError(KeleryError):
    """A Kafka record could not be decoded or validated against the message schemas.

    The one error the schema layer raises for bad input, whatever went wrong
    (bytes that are not UTF-8, not JSON, or JSON of the wrong shape), so a
    consumer needs a single ``except`` to route the record to its DLQ.
    """
