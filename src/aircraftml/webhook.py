"""The webhook: X's challenge-response check and signed event deliveries, queued durably.

``WebhookEndpoint`` holds the rules and knows no web framework, so the same code answers
behind ``aircraftml serve`` (Starlette, below) and behind API Gateway (``aws.lambdas``):

    GET  ?crc_token=T   200 {"response_token": ...}; 400 when T is missing or odd-shaped
    POST (events)       413 body over the limit        (checked before reading it all)
                        401 signature missing or wrong (checked on the raw bytes, first)
                        415 not JSON
                        400 JSON that does not parse (nested too deep too), or is not an
                            object
                        503 the queue could not store the events (X delivers again)
                        200 after every mention in it is durably queued; other events
                            (likes, follows, DMs...) are acknowledged and ignored

Every refusal is logged (at most one line per kind every 10 s, with a count: a flood of them
must not fill the disk). A 413 closes the connection, so that a chunked body is not read on.
The server around the app (``webhook_server``) bounds how long a request may take to arrive
and how many connections are open.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from aircraftml._throttled_log import ThrottledLog
from aircraftml.metrics import EVENTS_QUEUED, WEBHOOK_DELIVERIES
from aircraftml.platforms.x_events import requests_from_delivery
from aircraftml.platforms.x_webhook import InvalidCrcToken, crc_response, verify_signature

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook"
READINESS_TIMEOUT_S = 2.0

# A readiness check raises (any exception, its message kept) when what it checks is not ready.
ReadinessChecks = Mapping[str, Callable[[], object]]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)


class WebhookEndpoint:
    def __init__(
        self,
        *,
        consumer_secret: str,
        bot_user_id: str,
        bot_handle: str,
        enqueue: Callable[[Sequence[str]], object],
        max_body_bytes: int = 1_000_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = consumer_secret
        self._bot_user_id = bot_user_id
        self._bot_handle = bot_handle
        self._enqueue = enqueue
        self.max_body_bytes = max_body_bytes
        self._clock = clock
        self._refusals = ThrottledLog(logger)

    def challenge(self, crc_token: str | None) -> Answer:
        try:
            return Answer(200, crc_response(crc_token, self._secret))
        except InvalidCrcToken as exc:
            return Answer(400, {"error": str(exc)})

    def refused(self, status: int, error: str) -> Answer:
        """A refusal, logged (throttled) with its status and reason."""
        self._refusals.warning(str(status), "webhook delivery refused with %d: %s", status, error)
        return Answer(status, {"error": error})

    def too_large(self) -> Answer:
        WEBHOOK_DELIVERIES.labels(status="413").inc()
        return self.refused(413, f"body over {self.max_body_bytes} bytes")

    def deliver(self, raw_body: bytes, signature: str | None, content_type: str | None) -> Answer:
        """The answer to one POST (counted: behind ``serve`` and in the Lambda alike)."""
        if len(raw_body) > self.max_body_bytes:
            return self.too_large()
        answer = self._deliver(raw_body, signature, content_type)
        WEBHOOK_DELIVERIES.labels(status=str(answer.status)).inc()
        if answer.status == 200:
            EVENTS_QUEUED.inc(answer.body.get("queued", 0))
        return answer

    def _deliver(self, raw_body: bytes, signature: str | None, content_type: str | None) -> Answer:
        if not verify_signature(raw_body, signature, self._secret):
            return self.refused(401, "missing or invalid x-twitter-webhooks-signature")
        if (content_type or "").split(";")[0].strip().lower() != "application/json":
            return self.refused(
                415, f"expected Content-Type: application/json, not {content_type!r}"
            )
        try:
            payload = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError):
            return self.refused(400, "body is not valid JSON")
        except RecursionError:
            return self.refused(400, "body is JSON nested too deeply")
        if not isinstance(payload, dict):
            return self.refused(400, "body must be a JSON object")
        requests = requests_from_delivery(
            payload, self._bot_user_id, self._bot_handle, received_at_epoch_s=self._clock()
        )
        if requests:
            try:
                self._enqueue([r.to_json() for r in requests])
            except Exception:
                logger.exception("webhook could not queue %d request(s)", len(requests))
                return Answer(503, {"error": "could not queue the events; deliver again"})
        return Answer(200, {"queued": len(requests)})


def create_app(
    endpoint: WebhookEndpoint | None,
    readiness: ReadinessChecks | None = None,
    *,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The Starlette app serving ``endpoint`` at ``/webhook`` (when X is served),
    ``extra_routes`` (the page, the dashboard and ``/metrics``: ``web.site``), and two health
    endpoints:

    GET /healthz   200 while the process serves (liveness)
    GET /readyz    200 when every readiness check passes (queue and state reachable, workers
                   alive with their models loaded...), else 503; the body names each check
                   with "ok" or what is wrong. A check that takes over 2 s has failed.
    """

    async def healthz(request: HttpRequest) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def readyz(request: HttpRequest) -> JSONResponse:
        results = {name: await _run_check(check) for name, check in (readiness or {}).items()}
        ready = all(result == "ok" for result in results.values())
        return JSONResponse({"ready": ready, **results}, status_code=200 if ready else 503)

    webhook = _webhook_routes(endpoint) if endpoint is not None else []
    health = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    return Starlette(routes=[*webhook, *health, *extra_routes])


def _webhook_routes(endpoint: WebhookEndpoint) -> list[BaseRoute]:
    async def challenge(request: HttpRequest) -> JSONResponse:
        answer = endpoint.challenge(request.query_params.get("crc_token"))
        return JSONResponse(answer.body, status_code=answer.status)

    async def deliver(request: HttpRequest) -> JSONResponse:
        try:
            raw_body = await _read_capped(request, endpoint.max_body_bytes)
        except ClientDisconnect:  # gone (or cut off by the server's request timeout)
            return JSONResponse({"error": "client disconnected"}, status_code=400)
        if raw_body is None:
            answer = endpoint.too_large()
            # the rest of the body is not read: close, or uvicorn reads on (6.3 GB in 15 s)
            return JSONResponse(answer.body, status_code=413, headers={"connection": "close"})
        answer = await anyio.to_thread.run_sync(
            endpoint.deliver,
            raw_body,
            request.headers.get("x-twitter-webhooks-signature"),
            request.headers.get("content-type"),
        )
        return JSONResponse(answer.body, status_code=answer.status)

    return [
        Route(WEBHOOK_PATH, challenge, methods=["GET"]),
        Route(WEBHOOK_PATH, deliver, methods=["POST"]),
    ]


async def _run_check(check: Callable[[], object]) -> str:
    """``"ok"``, or what is wrong: the check's exception, or that it took too long."""
    with anyio.move_on_after(READINESS_TIMEOUT_S):
        try:
            await anyio.to_thread.run_sync(check, abandon_on_cancel=True)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return "ok"
    return f"no answer within {READINESS_TIMEOUT_S:g} s"


async def _read_capped(request: HttpRequest, max_bytes: int) -> bytes | None:
    """The raw body, or None as soon as it is known to be over ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
