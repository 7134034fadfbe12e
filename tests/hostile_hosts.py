"""Hostile peers on loopback, speaking raw TCP: a photo host that dribbles its answer, and a
client that holds webhook connections open. Real sockets, so the real timeouts are tested."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

PHOTO_ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: image/jpeg\r\ncontent-length: 4\r\n\r\n\xff\xd8\xff\xe0"
)


@contextmanager
def tcp_host(behaviour: Callable[[socket.socket], None]) -> Iterator[int]:
    """A loopback TCP server running ``behaviour(connection)`` for each connection; yields
    its port. Connections are closed when the block ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    connections: list[socket.socket] = []
    stopping = threading.Event()

    def serve() -> None:
        listener.settimeout(0.05)
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            connections.append(connection)
            threading.Thread(target=_run, args=(behaviour, connection), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stopping.set()
        thread.join()
        listener.close()
        for connection in connections:
            connection.close()


def _run(behaviour: Callable[[socket.socket], None], connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # the client gave up on us, which is the point
        behaviour(connection)


def dribble(answer: bytes, interval_s: float) -> Callable[[socket.socket], None]:
    """Read the request, then send ``answer`` one byte every ``interval_s``."""

    def behaviour(connection: socket.socket) -> None:
        connection.recv(65536)
        for byte in answer:
            connection.sendall(bytes([byte]))
            time.sleep(interval_s)

    return behaviour


def connections_closed_by_peer(sockets: list[socket.socket], timeout_s: float) -> int:
    """How many of ``sockets`` the server closed within ``timeout_s`` (EOF or reset)."""
    closed = 0
    deadline = time.monotonic() + timeout_s
    for sock in sockets:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            while sock.recv(65536):
                pass
            closed += 1
        except ConnectionResetError:
            closed += 1
        except OSError:
            pass
    return closed
