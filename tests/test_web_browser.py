"""The try-a-photo page in a real browser (Chromium): upload a photo, see a box and a label;
the phone layout; the page without JavaScript; the keyboard; what the first load fetches."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aircraftml.demo import draw_airliner
from aircraftml.vision.recognizer import Recognizer
from aircraftml.web.app import TryPage, create_web_app
from aircraftml.web.limits import UploadLimits
from browser_support import live_server, screenshot

PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}
FIRST_LOAD_MAX_BYTES = 100_000


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    page = TryPage(Recognizer.load(), UploadLimits(per_client_per_minute=1000))
    with live_server(create_web_app(page)) as url:
        yield url


@pytest.fixture(scope="module")
def airliner_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("photos") / "airliner.png"
    path.write_bytes(draw_airliner())
    return path


def _upload_and_wait(page: Any, photo: Path) -> None:
    page.set_input_files("#photo", str(photo))
    page.wait_for_selector("#result svg rect.box", timeout=20_000)


def test_upload_shows_a_box_a_label_and_the_reply(
    browser: Any, base_url: str, airliner_file: Path
) -> None:
    # Given the page on a desktop-sized window
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base_url + "/")
    # When a photo of an airliner is picked
    _upload_and_wait(page, airliner_file)
    # Then one box is drawn over the photo with its numbered label, and the words appear
    assert page.locator("#result svg rect.box").count() == 1
    label = page.locator("#result svg text.label").first.text_content() or ""
    # (the type with its confidence, or what the bot says of a type it does not know)
    assert re.fullmatch(r"1 (.+ \d+%|unknown type)", label), label
    said = page.locator("#result .said").first.text_content() or ""
    assert said  # the bot's own words, e.g. "probably a Boeing 737 NG (71%)"
    assert (page.locator("#result .reply").text_content() or "").startswith("I see one aircraft")
    assert page.locator("#result .types li").count() == 3
    # And the box lies over the photo, where the recognizer put it
    img = page.locator("#result .photo img").bounding_box()
    rect = page.locator("#result svg rect.box").bounding_box()
    assert img and rect
    assert img["x"] <= rect["x"] and rect["x"] + rect["width"] <= img["x"] + img["width"] + 1
    assert rect["width"] > img["width"] * 0.3
    screenshot(page, "page-desktop")
    context.close()


def test_phone_layout_has_no_sideways_scroll_and_readable_text(
    browser: Any, base_url: str, airliner_file: Path
) -> None:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(base_url + "/")
    _upload_and_wait(page, airliner_file)
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page is {widths[0]} px wide on a {widths[1]} px phone"
    font_px = page.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector('.said')).fontSize)"
    )
    assert font_px >= 14
    img = page.locator("#result .photo img").bounding_box()
    assert img and img["width"] <= 375
    screenshot(page, "page-phone")
    context.close()


def test_without_javascript_the_plain_form_answers(
    browser: Any, base_url: str, airliner_file: Path
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + "/")
    page.set_input_files("#photo", str(airliner_file))
    with page.expect_navigation():
        page.click("button[type=submit]")
    image = page.locator("#result .photo img")
    assert (image.get_attribute("src") or "").startswith("data:image/jpeg;base64,")
    assert (image.get_attribute("alt") or "").startswith("The photo with 1 aircraft")
    assert page.evaluate("() => document.querySelector('#result img').naturalWidth") > 0
    screenshot(page, "page-no-javascript")
    context.close()


def test_usable_from_the_keyboard(browser: Any, base_url: str) -> None:
    page = browser.new_page()
    page.goto(base_url + "/")
    focused = []
    for _ in range(2):
        page.keyboard.press("Tab")
        focused.append(
            page.evaluate("() => document.activeElement.id || document.activeElement.tagName")
        )
    assert focused == ["photo", "BUTTON"]
    page.close()


def test_first_load_is_small_and_asks_no_other_host(browser: Any, base_url: str) -> None:
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    sizes: list[int] = []
    page.on("response", lambda response: sizes.append(len(response.body())))
    page.goto(base_url + "/", wait_until="networkidle")
    assert requested and all(url.startswith(base_url + "/") for url in requested), requested
    assert sum(sizes) < FIRST_LOAD_MAX_BYTES, sizes
    page.close()
