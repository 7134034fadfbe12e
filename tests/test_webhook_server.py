"""The webhook's server bounds what one client can hold: idle, slow-header and slow-body
connections are closed after the request timeout, connections over the limit are refused,
and a 413 closes the connection instead of reading a chunked body on. Real sockets."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from aircraftml.platforms.x_webhook import sign_body
from aircraftml.queue.memory import MemoryQueue
from aircraftml.webhook import WebhookEndpoint, create_app
from aircraftml.webhook_server import build_server
from e2e_support import free_port, wait_for
from hostile_hosts import connections_closed_by_peer
from test_webhook import BOT_ID, SECRET, mention_event

REQUEST_TIMEOUT_S = 0.5
MAX_CONNECTIONS = 8


@pytest.fixture
def hook() -> Iterator[tuple[int, MemoryQueue]]:
    queue = MemoryQueue()
    endpoint = WebhookEndpoint(
        consumer_secret=SECRET,
        bot_user_id=BOT_ID,
        bot_handle="planebot",
        enqueue=queue.send,
        max_body_bytes=10_000,
    )
    port = free_port()
    server = build_server(
        create_app(endpoint),
        host="127.0.0.1",
        port=port,
        request_timeout_s=REQUEST_TIMEOUT_S,
        max_connections=MAX_CONNECTIONS,
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 10, "the webhook server to start")
    yield port, queue
    server.should_exit = True
    thread.join(10)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def signed_delivery(port: int) -> httpx.Response:
    body = json.dumps(mention_event()).encode()
    return httpx.post(
        f"http://127.0.0.1:{port}/webhook",
        content=body,
        headers={
            "content-type": "application/json",
            "x-twitter-webhooks-signature": sign_body(body, SECRET),
        },
        timeout=5,
    )


def test_an_idle_connection_is_closed_after_the_request_timeout(
    hook: tuple[int, MemoryQueue],
) -> None:
    # Given a connection that never sends a byte
    sock = connect(hook[0])
    started = time.monotonic()
    # Then the server closes it after the request timeout
    assert connections_closed_by_peer([sock], timeout_s=3) == 1
    assert time.monotonic() - started < REQUEST_TIMEOUT_S + 1.0


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n",
        b'POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-length: 5000\r\n\r\n{"a": ',
    ],
    ids=["slow headers", "slow body"],
)
def test_a_request_trickling_in_is_cut_off_at_the_request_timeout(
    hook: tuple[int, MemoryQueue], request_bytes: bytes
) -> None:
    # Given a client sending its request one byte every 50 ms (it would need seconds)
    sock = connect(hook[0])
    started = time.monotonic()
    with pytest.raises(OSError):
        for byte in request_bytes * 20:
            sock.sendall(bytes([byte]))
            time.sleep(0.05)
            if time.monotonic() - started > 5:
                break
        sock.sendall(b"x" * 65536)
        assert sock.recv(65536) == b""
        raise ConnectionResetError("closed by the server")
    # Then the server closed it at the request timeout
    assert time.monotonic() - started < REQUEST_TIMEOUT_S + 1.5


def test_idle_connections_over_the_limit_make_room_for_deliveries(
    hook: tuple[int, MemoryQueue],
) -> None:
    port, queue = hook
    # Given three times the connection limit of idle sockets, opened one after the other
    idle = [connect(port) for _ in range(3 * MAX_CONNECTIONS)]
    # Then the server keeps at most the limit open, closing the longest idle ones
    assert connections_closed_by_peer(idle[: 2 * MAX_CONNECTIONS], timeout_s=0.3) >= (
        2 * MAX_CONNECTIONS - 1
    )
    # And a signed delivery gets through at once, before any idle one has timed out
    started = time.monotonic()
    assert signed_delivery(port).status_code == 200
    assert time.monotonic() - started < REQUEST_TIMEOUT_S
    assert queue.stats().ready == 1
    for sock in idle:
        sock.close()


def test_a_413_on_a_chunked_body_closes_the_connection(hook: tuple[int, MemoryQueue]) -> None:
    # Given a client that streams an endless chunked body
    sock = connect(hook[0])
    sock.sendall(
        b"POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
    sent_bytes = 0
    answer = b""
    started = time.monotonic()
    # When it keeps sending after the body passed the 10,000-byte limit
    with pytest.raises(OSError):
        while time.monotonic() - started < 5:
            sock.sendall(chunk)
            sent_bytes += len(chunk)
            sock.settimeout(0.01)
            with contextlib.suppress(TimeoutError):
                answer += sock.recv(65536)
            sock.settimeout(5)
    # Then it was answered 413 and cut off long before it could send megabytes
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"connection: close" in answer.lower()
    assert sent_bytes < 20_000_000
