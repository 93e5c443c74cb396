"""Run the fake Discord: on the caller's event loop, or in a background thread.

:func:`serve` is for the standalone ``kelery-dev discord`` process (its own loop);
:func:`running_fake_discord` starts the server on a thread with its own event loop,
which is what lets one fixture serve both sync tests and async tests whose loop
runs the bot under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Iterator

from aiohttp import web

from kelery.devkit.fake_discord.control import FakeDiscord
from kelery.devkit.fake_discord.gateway import Gateway
from kelery.devkit.fake_discord.rest import RestApi, api_errors
from kelery.devkit.fake_discord.state import DEFAULT_CHANNELS, FakeDiscordState
from kelery.devkit.fake_discord.test_api import TestApi

log = logging.getLogger(__name__)

START_TIMEOUT_S = 15.0


def build_app(state: FakeDiscordState, gateway: Gateway, fake: FakeDiscord) -> web.Application:
    """The aiohttp application: REST under ``/api/v10``, ``/gateway``, test API under ``/_test``."""
    app = web.Application(middlewares=[api_errors])
    app.router.add_get("/gateway", gateway.handle)
    app.add_routes(TestApi(fake).routes())
    app.add_routes(RestApi(state, gateway.dispatch_message).routes())
    return app


@contextlib.asynccontextmanager
async def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    channels: tuple[str, ...] = DEFAULT_CHANNELS,
    heartbeat_interval_ms: int = 41_250,
) -> AsyncIterator[FakeDiscord]:
    """Serve a fresh fake Discord on the running loop; ``port=0`` picks a free port."""
    state = FakeDiscordState(channels=channels)
    gateway = Gateway(state, heartbeat_interval_ms=heartbeat_interval_ms)
    loop = asyncio.get_running_loop()
    fake = FakeDiscord(state, gateway, loop, base_url="http://placeholder")
    runner = web.AppRunner(build_app(state, gateway, fake), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    bound_port = int(runner.addresses[0][1]) if runner.addresses else port
    fake.base_url = f"http://{host}:{bound_port}"
    log.info("fake discord listening on %s", fake.api_base)
    try:
        yield fake
    finally:
        await gateway.close_all()
        await runner.cleanup()


@contextlib.contextmanager
def running_fake_discord(
    host: str = "127.0.0.1", port: int = 0, *, channels: tuple[str, ...] = DEFAULT_CHANNELS
) -> Iterator[FakeDiscord]:
    """Run a fake Discord on a daemon thread for the ``with`` block, then stop it."""
    ready = threading.Event()
    stop: asyncio.Event | None = None
    started: list[FakeDiscord] = []
    failures: list[BaseException] = []
    loop: asyncio.AbstractEventLoop | None = None

    async def main() -> None:
        nonlocal stop, loop
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            async with serve(host, port, channels=channels) as fake:
                started.append(fake)
                ready.set()
                await stop.wait()
        except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
            failures.append(exc)
            ready.set()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="fake-discord", daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT_S):
        raise RuntimeError("fake discord did not start")
    if not started:
        thread.join()
        raise RuntimeError(f"fake discord failed to start: {failures}") from (
            failures[0] if failures else None
        )
    fake = started[0]
    try:
        yield fake
    finally:
        if stop is not None and loop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=START_TIMEOUT_S)
