"""A TCP proxy that holds every chunk it forwards for a fixed time, in each direction.

Why it exists: the benchmark broker is on loopback, where a produce round trip is a
fraction of a millisecond, so a client that waits for the broker after every
message (kombu's flush per publish) hardly pays for it there, while on a real
network every such wait costs a full round trip. This kernel has no ``netem``
qdisc, so the distance is put in user space: the broker advertises this proxy's
port, and every byte between client and broker passes through it, late by
``--delay-ms``. Chunks keep their order; the delay is a sleep, not a bandwidth cap.

Run as ``python delay_proxy.py --listen PORT --to HOST:PORT --delay-ms 1``; it
prints ``ready`` once it listens, and runs until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import signal
import socket
import sys
import threading
import time
from types import FrameType

CHUNK = 65536


def forward(src: socket.socket, dst: socket.socket, delay_s: float) -> None:
    """Copy ``src`` to ``dst``, each chunk sent ``delay_s`` after it was read."""
    pending: queue.SimpleQueue[tuple[float, bytes] | None] = queue.SimpleQueue()

    def send_when_due() -> None:
        try:
            while (item := pending.get()) is not None:
                due, data = item
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the peer went away: the reading side sees it too and ends

    sender = threading.Thread(target=send_when_due, daemon=True)
    sender.start()
    try:
        while data := src.recv(CHUNK):
            pending.put((time.monotonic() + delay_s, data))
    except OSError:
        pass
    finally:
        pending.put(None)
        sender.join()


def connect_pair(client: socket.socket, upstream: tuple[str, int], delay_s: float) -> None:
    """Serve one client connection: two delayed directions, then close both ends."""
    try:
        server = socket.create_connection(upstream)
    except OSError:
        client.close()  # the broker is not listening (yet): the client sees a reset
        return
    with client, server:
        for sock in (client, server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        back = threading.Thread(target=forward, args=(server, client, delay_s), daemon=True)
        back.start()
        forward(client, server, delay_s)
        back.join()


def serve(listen_port: int, upstream: tuple[str, int], delay_s: float) -> None:
    """Accept connections on loopback ``listen_port`` until the process is stopped."""
    with socket.create_server(("127.0.0.1", listen_port)) as listener:
        print("ready", flush=True)
        while True:
            client, _ = listener.accept()
            threading.Thread(
                target=connect_pair, args=(client, upstream, delay_s), daemon=True
            ).start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", type=int, required=True, help="loopback port to accept on")
    parser.add_argument("--to", required=True, help="HOST:PORT to forward to")
    parser.add_argument("--delay-ms", type=float, required=True, help="added each way")
    args = parser.parse_args()
    host, _, port = args.to.rpartition(":")

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.listen, (host, int(port)), args.delay_ms / 1000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
