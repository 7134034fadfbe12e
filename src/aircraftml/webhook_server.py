"""The webhook's HTTP server: uvicorn, with bounds on what one client can hold.

uvicorn by itself waits for a request's headers and body as long as the client likes, and
accepts connections until the process runs out of file descriptors (1,100 idle sockets did
it). ``GuardedH11Protocol`` adds two rules:

- a request, headers and body, must arrive whole within ``request_timeout_s`` of the
  connection opening or of the previous answer; otherwise the connection is closed;
- at most ``max_connections`` connections are open: when one more opens, the connection
  that has waited longest without sending a request is closed to make room (idle sockets
  cannot lock X's deliveries out); when every one is busy with a request, the new one is.

Answers that refuse a body before it is all read (413) carry ``Connection: close`` (see
``webhook.create_app``), so uvicorn stops reading it.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from aircraftml._throttled_log import ThrottledLog

logger = logging.getLogger(__name__)
_throttled = ThrottledLog(logger)

DEFAULT_REQUEST_TIMEOUT_S = 10.0
DEFAULT_MAX_CONNECTIONS = 500
KEEP_ALIVE_S = 5


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a whole-request deadline and a connection limit."""

    request_timeout_s = DEFAULT_REQUEST_TIMEOUT_S
    max_connections = DEFAULT_MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_timer: asyncio.TimerHandle | None = None
        self._idle_since_s = time.monotonic()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            victim = _longest_idle(self.connections) or self
            _throttled.warning(
                "too many connections",
                "webhook: %d connections open (the limit): closed %s from %s",
                self.max_connections,
                "this new one" if victim is self else "the longest idle one",
                _peer(victim.client),
            )
            victim.transport.abort()
            if victim is self:
                return
        self._arm()

    @property
    def idle(self) -> bool:
        """Waiting for a request that has not begun to arrive, or not yet answered."""
        return self.conn.their_state is h11.IDLE and (
            self.cycle is None or self.cycle.response_complete
        )

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED):
            self._disarm()  # the whole request is in: the app has it

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._idle_since_s = time.monotonic()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection has its own time

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._request_timer = self.loop.call_later(self.request_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _timed_out(self) -> None:
        self._request_timer = None
        if self.transport.is_closing() or self.conn.their_state is h11.DONE:
            return
        _throttled.warning(
            "request timeout",
            "webhook: closed a connection from %s: no whole request within %g s",
            _peer(self.client),
            self.request_timeout_s,
        )
        self.transport.abort()


def guarded_protocol(
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> type[GuardedH11Protocol]:
    """A ``GuardedH11Protocol`` class with these bounds, for ``uvicorn.Config(http=...)``."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"request_timeout_s": request_timeout_s, "max_connections": max_connections},
    )


GRACEFUL_SHUTDOWN_S = 10


def build_server(
    app: Any,
    *,
    host: str,
    port: int,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> uvicorn.Server:
    """A uvicorn server for ``app`` with the guards above; ``.run()`` serves until stopped."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(request_timeout_s, max_connections),
        timeout_keep_alive=KEEP_ALIVE_S,
        # at SIGTERM, requests in hand get this long to finish, then are cancelled: a stop
        # never waits on a client
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        lifespan="off",
        log_level="warning",
    )
    return uvicorn.Server(config)


def raise_open_files_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            return soft
        return hard
    return soft


def _longest_idle(connections: set[Any]) -> GuardedH11Protocol | None:
    idle = [
        c
        for c in connections
        if isinstance(c, GuardedH11Protocol) and c.idle and not c.transport.is_closing()
    ]
    return min(idle, key=lambda c: c._idle_since_s, default=None)


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "?"
