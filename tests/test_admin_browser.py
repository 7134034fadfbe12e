"""The operator's dashboard in a real browser: refused without the token, signed in with
it, a dead letter redriven with its button; desktop and phone screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from admin_support import TOKEN, dashboard_app
from browser_support import live_server, screenshot


def test_refused_without_the_token_then_a_dead_letter_redriven(
    browser: Any, tmp_path: Path
) -> None:
    app, queue, message_id = dashboard_app(tmp_path)
    with live_server(app) as base_url:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        # Without the token: a sign-in form and nothing of the queue
        response = page.goto(base_url + "/admin")
        assert response is not None and response.status == 401
        assert page.locator("#queue").count() == 0
        page.fill("#token", "not-the-token")
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        assert "not the admin token" in (page.locator(".error").text_content() or "")
        screenshot(page, "admin-refused")
        # With it: the dashboard, the hostile text shown as text, never run
        page.fill("#token", TOKEN)
        page.keyboard.press("Enter")
        page.wait_for_selector("#queue")
        assert page.locator("#queue tr", has_text="dead").locator("td").text_content() == "1"
        letter = page.locator(".dead-letter").first.text_content() or ""
        assert "<script>alert('pwned')</script>" in letter
        assert page.locator("main script").count() == 0
        assert "photo host said 403" in letter
        assert page.locator("#replies img").count() == 1
        heights = page.eval_on_selector_all(
            "#chart rect", "rects => rects.map(r => r.getBBox().height)"
        )
        assert len(heights) >= 2 and max(heights) > 50  # 3 mentions: the peak bar
        label = page.locator("#chart").get_attribute("aria-label") or ""
        assert label.startswith("3 mentions and 2 replies")
        assert page.locator("details summary", has_text="Type classifier").count() == 1
        assert "worker-0 pid 4242 running" in (page.locator("#workers").text_content() or "")
        screenshot(page, "admin-desktop")
        # When the operator redrives the dead letter
        page.click(f"text=Redrive {message_id}")
        page.wait_for_selector(".notice")
        # Then it is back on the queue, and the page says so
        assert f"Redriven: {message_id}" in (page.locator(".notice").text_content() or "")
        assert page.locator(".dead-letter").count() == 0
        assert queue.stats().dead == 0 and queue.stats().ready == 1
        page.set_viewport_size({"width": 375, "height": 740})
        widths = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
        assert widths[0] <= widths[1], widths
        screenshot(page, "admin-phone")
        page.close()
