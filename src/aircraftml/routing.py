"""One worker answers mentions from every network: each request goes to its network's
handler (``request.platform``). Nothing here names a network; ``assembly`` builds one
``Handler`` per network in the settings."""

from __future__ import annotations

from collections.abc import Mapping

from aircraftml.domain import Request
from aircraftml.errors import PermanentError
from aircraftml.handler import Handled, Handler


class HandlerRouter:
    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        if not handlers:
            raise ValueError("a router needs at least one handler")
        self._handlers = dict(handlers)

    @property
    def networks(self) -> tuple[str, ...]:
        return tuple(self._handlers)

    @property
    def max_handling_s(self) -> float:
        return max(handler.max_handling_s for handler in self._handlers.values())

    def rate_limited_until(self) -> float:
        """When the first network's window reopens: a worker takes no work only while
        every network it serves is rate limited (each handler waits for its own)."""
        return min(handler.rate_limited_until() for handler in self._handlers.values())

    def handle(self, request: Request, *, earlier_tries: int = 0) -> Handled:
        handler = self._handlers.get(request.platform)
        if handler is None:
            raise PermanentError(
                f"post {request.post_id}: network {request.platform!r} is not served here "
                f"(AIRCRAFTML_NETWORKS={','.join(self._handlers)})"
            )
        return handler.handle(request, earlier_tries=earlier_tries)
