"""The web page and its API, as Starlette routes: mounted beside the webhook by
``aircraftml serve``, or served alone by ``aircraftml web``.

    GET  /               the page (a plain form; a little JavaScript makes it live)
    POST /               the form without JavaScript: the answer as a page
    POST /api/recognize  the photo (multipart field ``photo``, or the raw body with an
                         image/* content type) -> the JSON of ``aircraftml classify --json``
                         plus ``bot`` (what the bot would say)
                         413 over the byte limit (checked before the body is read on),
                         422 not a photo we read or over the pixel limit (header only),
                         429 + Retry-After over the client's rate, 503 + Retry-After when
                         the recognitions in hand are at the cap
    GET  /static/...     the page's CSS and JavaScript, from the package

Photos are held in memory while they are recognised and never stored.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from aircraftml.errors import PhotoError
from aircraftml.metrics import PAGE_PHOTOS, observe_recognition
from aircraftml.vision.recognizer import Recognition, Recognizer
from aircraftml.web.limits import ConcurrencyCap, RateLimiter, UploadLimits
from aircraftml.web.metrics_endpoint import metrics_route
from aircraftml.web.page import PAGE_HEADERS, render_page, static_mount
from aircraftml.web.tryout import annotated_data_url, answer_json, recognize_upload
from aircraftml.web.upload import BadUpload, Upload, photo_from_body

logger = logging.getLogger(__name__)

BUSY_RETRY_AFTER_S = 2
MULTIPART_OVERHEAD_BYTES = 16_384  # the form's boundaries and headers around the photo


@dataclass(frozen=True, slots=True)
class Refusal(Exception):
    status: int
    error: str
    retry_after_s: int | None = None

    def headers(self) -> dict[str, str]:
        return {} if self.retry_after_s is None else {"retry-after": str(self.retry_after_s)}


class TryPage:
    """The page's rules around one recognizer: limits, then recognition in a thread."""

    def __init__(self, recognizer: Recognizer, limits: UploadLimits) -> None:
        self._recognizer = recognizer
        self.limits = limits
        self.cap = ConcurrencyCap(limits.max_concurrent)
        self._rate = RateLimiter(limits.per_client_per_minute)

    async def recognize(self, request: Request) -> tuple[Upload, Recognition]:
        try:
            upload, recognition = await self._recognize(request)
        except Refusal as refusal:
            PAGE_PHOTOS.labels(status=str(refusal.status)).inc()
            raise
        PAGE_PHOTOS.labels(status="200").inc()
        observe_recognition(recognition.timings_ms, source="page")
        return upload, recognition

    async def _recognize(self, request: Request) -> tuple[Upload, Recognition]:
        client = request.client.host if request.client else "unknown"
        wait_s = self._rate.allow(client)
        if wait_s > 0:
            raise Refusal(429, "too many photos from you; try again shortly", math.ceil(wait_s))
        upload = await self._read_upload(request)
        if not self.cap.try_acquire():
            raise Refusal(503, "busy with other photos; try again shortly", BUSY_RETRY_AFTER_S)
        try:
            recognition = await anyio.to_thread.run_sync(
                lambda: recognize_upload(
                    self._recognizer, upload.data, max_pixels=self.limits.max_pixels
                )
            )
        except PhotoError as exc:
            raise Refusal(422, f"could not read that photo: {exc}") from None
        finally:
            self.cap.release()
        return upload, recognition

    async def _read_upload(self, request: Request) -> Upload:
        max_body = self.limits.max_bytes + MULTIPART_OVERHEAD_BYTES
        too_large = Refusal(413, f"photo over {self.limits.max_bytes:,} bytes")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body:
            raise too_large
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_body:
                    raise too_large
                chunks.append(chunk)
        except ClientDisconnect:
            raise Refusal(400, "the upload did not arrive whole") from None
        try:
            upload = photo_from_body(b"".join(chunks), request.headers.get("content-type"))
        except BadUpload as exc:
            raise Refusal(400, str(exc)) from None
        if len(upload.data) > self.limits.max_bytes:
            raise too_large
        if not upload.data:
            raise Refusal(422, "no photo was sent (0 bytes)")
        return upload


def web_routes(try_page: TryPage) -> list[BaseRoute]:
    """The page's routes, to add to an app (the webhook's) or serve alone."""

    async def page(request: Request) -> Response:
        return HTMLResponse(render_page(), headers=PAGE_HEADERS)

    async def page_answer(request: Request) -> Response:
        try:
            upload, recognition = await try_page.recognize(request)
        except Refusal as refusal:
            return _closing(
                HTMLResponse(
                    render_page(error=refusal.error),
                    status_code=refusal.status,
                    headers={**PAGE_HEADERS, **refusal.headers()},
                ),
                refusal,
            )
        image_url = await anyio.to_thread.run_sync(annotated_data_url, recognition)
        html = render_page(answer_json(recognition, upload.name), image_url=image_url)
        return HTMLResponse(html, headers=PAGE_HEADERS)

    async def api_recognize(request: Request) -> Response:
        try:
            upload, recognition = await try_page.recognize(request)
        except Refusal as refusal:
            return _closing(
                JSONResponse(
                    {"error": refusal.error}, status_code=refusal.status, headers=refusal.headers()
                ),
                refusal,
            )
        return JSONResponse(
            answer_json(recognition, upload.name), headers={"cache-control": "no-store"}
        )

    return [
        Route("/", page, methods=["GET"]),
        Route("/", page_answer, methods=["POST"]),
        Route("/api/recognize", api_recognize, methods=["POST"]),
        static_mount(),
    ]


def _closing(response: Response, refusal: Refusal) -> Response:
    """A 413 closes the connection: the rest of the body is not read."""
    if refusal.status == 413:
        response.headers["connection"] = "close"
    return response


def create_web_app(try_page: TryPage) -> Starlette:
    """The page alone (``aircraftml web``), with a liveness check."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[*web_routes(try_page), metrics_route(None), Route("/healthz", healthz)]
    )
