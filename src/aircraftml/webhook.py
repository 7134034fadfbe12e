"""The webhook: X's challenge-response check and signed event deliveries, queued durably.

``WebhookEndpoint`` holds the rules and knows no web framework, so the same code answers
behind ``aircraftml serve`` (Starlette, below) and behind API Gateway (``aws.lambdas``):

    GET  ?crc_token=T   200 {"response_token": ...}; 400 when T is missing or odd-shaped
    POST (events)       413 body over the limit        (checked before reading it all)
                        401 signature missing or wrong (checked on the raw bytes, first)
                        415 not JSON
                        400 JSON that does not parse, or is not an object
                        503 the queue could not store the events (X delivers again)
                        200 after every mention in it is durably queued; other events
                            (likes, follows, DMs...) are acknowledged and ignored
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from aircraftml.metrics import EVENTS_QUEUED, WEBHOOK_DELIVERIES
from aircraftml.platforms.x_events import requests_from_delivery
from aircraftml.platforms.x_webhook import InvalidCrcToken, crc_response, verify_signature

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook"


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

    def challenge(self, crc_token: str | None) -> Answer:
        try:
            return Answer(200, crc_response(crc_token, self._secret))
        except InvalidCrcToken as exc:
            return Answer(400, {"error": str(exc)})

    def deliver(self, raw_body: bytes, signature: str | None, content_type: str | None) -> Answer:
        if len(raw_body) > self.max_body_bytes:
            return too_large(self.max_body_bytes)
        if not verify_signature(raw_body, signature, self._secret):
            logger.warning("webhook delivery refused: bad or missing signature")
            return Answer(401, {"error": "missing or invalid x-twitter-webhooks-signature"})
        if (content_type or "").split(";")[0].strip().lower() != "application/json":
            return Answer(415, {"error": "expected Content-Type: application/json"})
        try:
            payload = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError):
            return Answer(400, {"error": "body is not valid JSON"})
        if not isinstance(payload, dict):
            return Answer(400, {"error": "body must be a JSON object"})
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


def too_large(max_body_bytes: int) -> Answer:
    return Answer(413, {"error": f"body over {max_body_bytes} bytes"})


def create_app(endpoint: WebhookEndpoint, *, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The Starlette app serving ``endpoint`` at ``/webhook``, plus ``/healthz`` and
    ``extra_routes`` (the try-a-photo page: ``web.app``)."""

    async def challenge(request: HttpRequest) -> JSONResponse:
        answer = endpoint.challenge(request.query_params.get("crc_token"))
        return JSONResponse(answer.body, status_code=answer.status)

    async def deliver(request: HttpRequest) -> JSONResponse:
        raw_body = await _read_capped(request, endpoint.max_body_bytes)
        if raw_body is None:
            answer = too_large(endpoint.max_body_bytes)
        else:
            answer = await anyio.to_thread.run_sync(
                endpoint.deliver,
                raw_body,
                request.headers.get("x-twitter-webhooks-signature"),
                request.headers.get("content-type"),
            )
        WEBHOOK_DELIVERIES.labels(status=str(answer.status)).inc()
        if answer.status == 200:
            EVENTS_QUEUED.inc(answer.body.get("queued", 0))
        return JSONResponse(answer.body, status_code=answer.status)

    async def healthz(request: HttpRequest) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route(WEBHOOK_PATH, challenge, methods=["GET"]),
            Route(WEBHOOK_PATH, deliver, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            *extra_routes,
        ]
    )


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
