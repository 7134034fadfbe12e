"""What ``aircraftml serve`` mounts beside the webhook, from the settings: ``/metrics``
always, the try-a-photo page in ``serve`` (not in ``webhook``, which loads no models)
unless ``web_page`` is off, ``/admin`` when an admin token is
set (with the chart's sampler thread and the state store it reads the last replies from).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from starlette.routing import BaseRoute

from aircraftml.assembly import build_state
from aircraftml.config import Settings
from aircraftml.errors import AircraftMLError
from aircraftml.queue.base import RequestQueue
from aircraftml.recent import RecentReplies
from aircraftml.state.base import StateStore
from aircraftml.web.activity import Activity
from aircraftml.web.admin import AdminSources, admin_routes, shipped_model_cards
from aircraftml.web.metrics_endpoint import metrics_route
from aircraftml.web.page import static_mount

logger = logging.getLogger(__name__)


class Site:
    def __init__(
        self,
        settings: Settings,
        queue: RequestQueue,
        workers_status: Callable[[], str] | None,
        *,
        page: bool = True,
    ) -> None:
        self.routes: list[BaseRoute] = [metrics_route(queue)]
        self._page = page and settings.web_page
        self._admin = bool(settings.admin_token)
        self._stop = threading.Event()
        self._state: StateStore | None = None
        page_routes = self._page_routes(settings) if self._page else None
        self._page = page_routes is not None
        self.routes += page_routes or [static_mount()]  # without the page: the dashboard's CSS
        if settings.admin_token:
            self._state = build_state(settings)
            activity = Activity()
            threading.Thread(target=activity.run, args=(self._stop,), daemon=True).start()
            sources = AdminSources(
                queue=queue,
                recent=RecentReplies(self._state),
                workers=workers_status or (lambda: "none in this process (scale-out)"),
                activity=activity,
                model_cards=shipped_model_cards(settings.classifier_dir),
            )
            self.routes += admin_routes(settings.admin_token, sources)

    @staticmethod
    def _page_routes(settings: Settings) -> list[BaseRoute] | None:
        """The page with its own recognizer, loaded here in the webhook's process; None when
        its models cannot be loaded: the webhook and the rest still serve (the workers,
        which load the same models, report the problem in /readyz)."""
        from aircraftml.assembly import build_try_page
        from aircraftml.web.app import web_routes

        try:
            return web_routes(build_try_page(settings))
        except AircraftMLError as exc:
            logger.error("the page at / is off: %s", exc)
            return None

    def paths(self, *, webhook: bool) -> list[str]:
        """What is served, for the start-up line: ``/webhook, /, /metrics``..."""
        served = {"/webhook": webhook, "/": self._page, "/admin": self._admin}
        return [path for path, on in served.items() if on] + ["/metrics", "/healthz", "/readyz"]

    def close(self) -> None:
        self._stop.set()
        if self._state is not None:
            self._state.close()
