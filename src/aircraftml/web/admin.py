"""``/admin``, the operator's dashboard: only mounted when an admin token is configured
(``AIRCRAFTML_ADMIN_TOKEN``), and refused (401, a sign-in form) without it.

    GET  /admin           the dashboard: queue depth, workers, a chart of mentions and
                          replies, the last replies, dead letters (each with a redrive
                          button), the models' cards
    POST /admin/login     the token, from the form -> the session cookie
    POST /admin/redrive   one dead letter back onto the queue (session + CSRF token)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from aircraftml.queue.base import RequestQueue
from aircraftml.recent import RecentReplies
from aircraftml.web.activity import Activity
from aircraftml.web.admin_auth import AdminAuth
from aircraftml.web.admin_page import Dashboard, render_dashboard, render_login
from aircraftml.web.limits import RateLimiter
from aircraftml.web.page import PAGE_HEADERS

logger = logging.getLogger(__name__)

MAX_FORM_BYTES = 4096
LOGIN_TRIES_PER_MINUTE = 10
MODELS = Path(__file__).resolve().parent.parent / "models"


@dataclass(frozen=True)
class AdminSources:
    queue: RequestQueue
    recent: RecentReplies | None
    workers: Callable[[], str]
    activity: Activity
    model_cards: Sequence[tuple[str, str]]


def shipped_model_cards(classifier_dir: Path | None = None) -> list[tuple[str, str]]:
    cards = [
        ("Type classifier", (classifier_dir or MODELS / "classifier") / "MODEL_CARD.md"),
        ("Detector (COCO-SSD)", MODELS / "coco-ssd.md"),
    ]
    return [(title, path.read_text(encoding="utf-8")) for title, path in cards if path.exists()]


def admin_routes(token: str, sources: AdminSources) -> list[BaseRoute]:
    auth = AdminAuth(token)
    logins = RateLimiter(LOGIN_TRIES_PER_MINUTE)

    def html(text: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(text, status_code=status, headers=PAGE_HEADERS)

    async def dashboard(request: Request) -> Response:
        if not auth.signed_in(request):
            return html(render_login(), 401)
        notice = request.query_params.get("redriven")
        board = await anyio.to_thread.run_sync(
            _gather, sources, auth.csrf, f"Redriven: {notice}" if notice else ""
        )
        return html(render_dashboard(board))

    async def login(request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        if logins.allow(client) > 0:
            return html(render_login("Too many tries; wait a minute."), 429)
        form = await _small_form(request)
        if form is None or not auth.token_matches(form.get("token", "")):
            logger.warning("admin: sign-in refused from %s", client)
            return html(render_login("That is not the admin token."), 401)
        response = RedirectResponse("/admin", status_code=303)
        response.headers["set-cookie"] = auth.cookie_header(request.url.scheme == "https")
        return response

    async def redrive(request: Request) -> Response:
        if not auth.signed_in(request):
            return html(render_login(), 401)
        form = await _small_form(request)
        if form is None or not auth.csrf_ok(form.get("csrf", "")):
            return html(render_login("The form was stale or forged; sign in again."), 403)
        message_id = form.get("id", "")
        moved = await anyio.to_thread.run_sync(sources.queue.redrive, [message_id])
        logger.info("admin: redrive %s: %d moved", message_id, moved)
        return RedirectResponse(f"/admin?redriven={message_id if moved else 'none'}", 303)

    return [
        Route("/admin", dashboard, methods=["GET"]),
        Route("/admin/login", login, methods=["POST"]),
        Route("/admin/redrive", redrive, methods=["POST"]),
    ]


async def _small_form(request: Request) -> dict[str, str] | None:
    """A small urlencoded form, or None (too large, or not a form)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    return dict(parse_qsl(body.decode("utf-8", "replace")))


def _gather(sources: AdminSources, csrf: str, notice: str) -> Dashboard:
    stats = sources.queue.stats()
    return Dashboard(
        stats=stats,
        oldest_age_s=getattr(stats, "oldest_age_s", None),
        replies=sources.recent.latest() if sources.recent else [],
        dead_letters=sources.queue.dead_letters(limit=50),
        workers=sources.workers(),
        buckets=sources.activity.buckets(),
        model_cards=sources.model_cards,
        csrf=csrf,
        notice=notice,
    )
