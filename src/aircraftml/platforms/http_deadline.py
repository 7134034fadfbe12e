"""One deadline for a whole HTTP exchange: connect, TLS, headers and body, to the last byte.

httpx's timeouts apply to each socket operation: a host that sends one byte every two seconds
never trips a 15 s read timeout, and held a worker 149 s. ``DeadlineTransport`` caps every
connect, read and write at the time left before the deadline that ``within_deadline`` set for
the current thread (or task), so the exchange ends with a timeout once it passes::

    with within_deadline(15.0):
        response = client.get(url)   # httpx.TimeoutException 15 s after the start, at most

Outside ``within_deadline`` the transport behaves as httpx's own.
"""

from __future__ import annotations

import contextvars
import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

_deadline_s: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "aircraftml_http_deadline_s", default=None
)


@contextmanager
def within_deadline(seconds: float) -> Iterator[None]:
    """Every request made inside ends within ``seconds`` (an inner deadline may be shorter)."""
    deadline_s = time.monotonic() + seconds
    outer = _deadline_s.get()
    token = _deadline_s.set(deadline_s if outer is None else min(outer, deadline_s))
    try:
        yield
    finally:
        _deadline_s.reset(token)


def _capped(timeout_s: float | None, timeout_error: type[Exception]) -> float | None:
    """``timeout_s`` shortened to the time left before the deadline; raises once it passed."""
    deadline_s = _deadline_s.get()
    if deadline_s is None:
        return timeout_s
    left_s = deadline_s - time.monotonic()
    if left_s <= 0:
        raise timeout_error("the deadline for the whole exchange passed")
    return left_s if timeout_s is None else min(timeout_s, left_s)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        capped = _capped(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, capped))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        capped = _capped(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, capped, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        capped = _capped(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, capped, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport (its request and error mapping), over sockets that honour the
    deadline of ``within_deadline``. Connections are pooled as usual."""

    def __init__(self, *, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(limits=limits)
        # httpx.HTTPTransport takes no network backend: its pool is replaced by one that has
        # ours (tests/test_http_deadline.py fails if this ever stops working).
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )
