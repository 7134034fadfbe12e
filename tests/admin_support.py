"""A dashboard over real parts for the admin tests: an SQLite queue holding one dead
letter whose text is HTML, a state store with one recent reply (with its picture)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image
from starlette.applications import Starlette

from aircraftml.domain import Request
from aircraftml.queue.sqlite import SqliteQueue
from aircraftml.recent import RecentReplies
from aircraftml.state.memory import MemoryStateStore
from aircraftml.web.activity import Activity
from aircraftml.web.admin import AdminSources, admin_routes, shipped_model_cards
from aircraftml.web.page import static_mount

TOKEN = "s3cret-admin-token"
HOSTILE_TEXT = "<script>alert('pwned')</script> what is this?"


def dashboard_app(tmp_path: Path) -> tuple[Starlette, SqliteQueue, str]:
    """The app, its queue, and the id of the dead letter in it."""
    queue = SqliteQueue(tmp_path / "queue.sqlite3")
    request = Request("x", "9001", "7", "mallory", HOSTILE_TEXT, ("https://pbs.twimg.com/a.jpg",))
    [message_id] = queue.send([request.to_json()])
    [message] = queue.receive(visibility_timeout_s=30)
    queue.dead_letter(message, "PermanentError: photo host said 403")
    recent = RecentReplies(MemoryStateStore())
    recent.add(
        post_id="9000",
        reply_id="9100",
        author_handle="alice",
        text="@alice I see one aircraft: probably a Boeing 737 NG (71%).",
        received_at_epoch_s=None,
        picture=Image.new("RGB", (640, 400), (90, 140, 210)),
    )
    activity = Activity(_growing_totals())
    activity.sample()
    sources = AdminSources(
        queue=queue,
        recent=recent,
        workers=lambda: "worker-0 pid 4242 running",
        activity=activity,
        model_cards=shipped_model_cards(),
    )
    app = Starlette(routes=[*admin_routes(TOKEN, sources), static_mount()])
    return app, queue, message_id


def _growing_totals() -> Callable[[], tuple[float, float]]:
    """Totals as the metrics would give them: none at the first look, then 3 mentions
    and 2 replies."""
    looks = iter([(0.0, 0.0)])
    return lambda: next(looks, (3.0, 2.0))
