from dataclasses import dataclass

import aiohttp
import pytest

from kelery.discord_speaker._nextcord import nextcord
from kelery.discord_speaker.poster import classify_failure


@dataclass
class _Response:
    """The two attributes nextcord's HTTPException reads from a response."""

    status: int
    reason: str = "reason"


def _http_error(status: int, text: str = "Missing Access", code: int = 50001) -> Exception:
    response = _Response(status)
    payload = {"message": text, "code": code}
    if status == 403:
        return nextcord.Forbidden(response, payload)
    if status == 404:
        return nextcord.NotFound(response, payload)
    if status >= 500:
        return nextcord.DiscordServerError(response, payload)
    return nextcord.HTTPException(response, payload)


@pytest.mark.parametrize("status", [400, 403, 404, 413])
def test_refusals_are_rejected_with_status_and_discord_text(status: int) -> None:
    kind, reason = classify_failure(_http_error(status, "Unknown Channel", 10003))
    assert kind == "rejected"
    assert f"discord answered {status}: Unknown Channel (code 10003)" == reason


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_rate_limits_and_server_errors_are_retried(status: int) -> None:
    assert classify_failure(_http_error(status))[0] == "transient"


def test_a_bad_token_stops_the_speaker() -> None:
    assert classify_failure(_http_error(401, "401: Unauthorized", 0))[0] == "fatal"


@pytest.mark.parametrize(
    "exc",
    [aiohttp.ClientConnectionError("refused"), ConnectionResetError(), TimeoutError()],
)
def test_network_failures_are_retried(exc: Exception) -> None:
    kind, reason = classify_failure(exc)
    assert kind == "transient"
    assert reason.startswith("cannot reach discord")


def test_unexpected_errors_stop_rather_than_loop() -> None:
    assert classify_failure(TypeError("bug"))[0] == "fatal"
