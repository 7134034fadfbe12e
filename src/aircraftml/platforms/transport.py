"""The transport every platform client sends through: one deadline for a whole exchange
(``http_deadline``; a test's own transport instead when given) and each request counted in
``aircraftml_platform_api_calls_total`` by network and status ("error" when no answer came).
"""

from __future__ import annotations

import httpx

from aircraftml.metrics import PLATFORM_CALLS
from aircraftml.platforms.http_deadline import DeadlineTransport


class CountedTransport(httpx.BaseTransport):
    def __init__(self, network: str, inner: httpx.BaseTransport) -> None:
        self._network = network
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = self._inner.handle_request(request)
        except Exception:
            PLATFORM_CALLS.labels(platform=self._network, status="error").inc()
            raise
        PLATFORM_CALLS.labels(platform=self._network, status=str(response.status_code)).inc()
        return response

    def close(self) -> None:
        self._inner.close()


def platform_transport(network: str, transport: httpx.BaseTransport | None) -> CountedTransport:
    return CountedTransport(network, transport or DeadlineTransport())
