"""/admin in process: off unless a token is set, refused without it, CSRF on redrive."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from admin_support import HOSTILE_TEXT, TOKEN, dashboard_app
from aircraftml.config import Settings
from aircraftml.queue.memory import MemoryQueue
from aircraftml.web.site import Site

REQUIRED = {
    "bot_user_id": "42",
    "bot_handle": "aircraftml",
    "x_consumer_key": "k",
    "x_consumer_secret": "s",
    "x_access_token": "t",
    "x_access_token_secret": "ts",
}


def test_admin_is_not_there_without_a_token_configured() -> None:
    site = Site(Settings(**REQUIRED, web_page=False), MemoryQueue(), None)  # type: ignore[arg-type]
    paths = {getattr(route, "path", "") for route in site.routes}
    assert paths == {"/metrics", "/static"}
    with_token = Site(
        Settings(**REQUIRED, web_page=False, admin_token=TOKEN, state_url="memory://"),  # type: ignore[arg-type]
        MemoryQueue(),
        None,
    )
    assert "/admin" in {getattr(route, "path", "") for route in with_token.routes}
    with_token.close()


def test_refused_without_the_token_and_shown_with_it(tmp_path: Path) -> None:
    app, _, _ = dashboard_app(tmp_path)
    client = TestClient(app)
    refused = client.get("/admin")
    assert refused.status_code == 401
    assert "dead" not in refused.text and 'name="token"' in refused.text
    assert client.get("/admin", headers={"authorization": "Bearer wrong"}).status_code == 401
    shown = client.get("/admin", headers={"authorization": f"Bearer {TOKEN}"})
    assert shown.status_code == 200
    assert "&lt;script&gt;" in shown.text and HOSTILE_TEXT not in shown.text


def test_sign_in_sets_a_strict_http_only_cookie(tmp_path: Path) -> None:
    app, _, _ = dashboard_app(tmp_path)
    client = TestClient(app)
    wrong = client.post("/admin/login", data={"token": "guess"}, follow_redirects=False)
    assert wrong.status_code == 401
    right = client.post("/admin/login", data={"token": TOKEN}, follow_redirects=False)
    assert right.status_code == 303
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert TOKEN not in cookie
    assert client.get("/admin").status_code == 200


def test_redrive_needs_the_session_and_the_csrf_token(tmp_path: Path) -> None:
    app, queue, message_id = dashboard_app(tmp_path)
    client = TestClient(app)
    # Without signing in: refused, the letter stays dead
    anonymous = client.post("/admin/redrive", data={"id": message_id, "csrf": "x"})
    assert anonymous.status_code == 401
    # Signed in but without the form's CSRF token (a forged form): refused
    client.post("/admin/login", data={"token": TOKEN})
    forged = client.post("/admin/redrive", data={"id": message_id, "csrf": "forged"})
    assert forged.status_code == 403
    assert queue.stats().dead == 1
    # With the token the dashboard's form carries: redriven
    page = client.get("/admin").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    done = client.post("/admin/redrive", data={"id": message_id, "csrf": csrf})
    assert done.status_code == 200 and f"Redriven: {message_id}" in done.text
    assert queue.stats().dead == 0 and queue.stats().ready == 1
