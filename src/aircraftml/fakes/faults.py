"""Fault injection for the fakes, as pure ASGI middleware: 429, 500, 503, a slow answer, or
a dropped connection, for the next ``count`` requests whose path matches a glob. Each
network's fake says what its error bodies and rate-limit headers look like."""

from __future__ import annotations

import asyncio
import fnmatch
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

from starlette.responses import JSONResponse

FaultKind = Literal["429", "500", "503", "slow", "drop"]
FAULT_KINDS: tuple[str, ...] = ("429", "500", "503", "slow", "drop")
ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]
# (status, now) -> (JSON body, headers) of an injected error, in the network's own words
ErrorBody = Callable[[int, float, float], tuple[dict[str, Any], dict[str, str]]]


@dataclass(slots=True)
class Fault:
    pattern: str
    kind: FaultKind
    remaining: int
    delay_s: float = 0.0
    reset_after_s: float = 1.0
    method: str | None = None


class Faults:
    """The faults waiting to happen, and a log of ``(method, path, status)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self.log: list[tuple[str, str, int]] = []

    def inject(
        self,
        pattern: str,
        kind: FaultKind,
        *,
        count: int = 1,
        delay_s: float = 0.0,
        reset_after_s: float = 1.0,
        method: str | None = None,
    ) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {kind!r} is not one of {FAULT_KINDS}")
        with self._lock:
            self._faults.append(Fault(pattern, kind, count, delay_s, reset_after_s, method))

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining <= 0 or not fnmatch.fnmatchcase(path, fault.pattern):
                    continue
                if fault.method is not None and fault.method.upper() != method:
                    continue
                fault.remaining -= 1
                return fault
        return None

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.log.append((method, path, status))

    def clear(self) -> None:
        """Forget the faults waiting and the log."""
        with self._lock:
            self._faults.clear()
            self.log.clear()


class FaultMiddleware:
    def __init__(
        self, app: ASGIApp, faults: Faults, error_body: ErrorBody, clock: Callable[[], float]
    ) -> None:
        self._app = app
        self._faults = faults
        self._error_body = error_body
        self._clock = clock

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_fake"):
            await self._app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        fault = self._faults.take(method, path)
        logged = [False]

        async def logging_send(message: Any) -> None:
            # Logged before the answer leaves, so a client that has it finds it in the log.
            if message["type"] == "http.response.start" and not logged[0]:
                logged[0] = True
                self._faults.record(method, path, message["status"])
            await send(message)

        try:
            if fault is None or fault.kind == "slow":
                if fault is not None:
                    await asyncio.sleep(fault.delay_s)
                await self._app(scope, receive, logging_send)
            elif fault.kind == "drop":
                # Promise a body, send part of it, then stop: the client sees the link drop.
                start = {"type": "http.response.start", "status": 200}
                await logging_send({**start, "headers": [(b"content-length", b"1000")]})
                await send({"type": "http.response.body", "body": b'{"id":', "more_body": True})
            else:
                status = int(fault.kind)
                body, headers = self._error_body(status, self._clock(), fault.reset_after_s)
                response = JSONResponse(body, status, headers=headers)
                await response({"type": "http"}, _no_receive, logging_send)
        finally:
            if not logged[0]:  # no answer at all
                self._faults.record(method, path, 0)


async def _no_receive() -> Any:
    return {"type": "http.disconnect"}
