"""The try-a-photo page as HTML: the form, and (without JavaScript) the answer rendered on
the server. Everything that came from the user (the file's name, and so every string built
from the answer) is escaped here; the JavaScript version sets text, never HTML."""

from __future__ import annotations

from html import escape
from typing import Any

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

PAGE_TITLE = "AircraftML: which aircraft is this?"
PAGE_HEADERS = {
    # Only this host: no script, style, font or image from anywhere else.
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def static_mount() -> Mount:
    """The page's and the dashboard's CSS and JavaScript, from the package."""
    return Mount("/static", StaticFiles(packages=[("aircraftml.web", "static")]), name="static")


def render_page(
    answer: dict[str, Any] | None = None,
    *,
    image_url: str | None = None,
    error: str | None = None,
) -> str:
    result = ""
    if error is not None:
        result = f'<p class="error" role="alert">{escape(error)}</p>'
    elif answer is not None:
        result = render_answer(answer, image_url or "")
    return _PAGE.format(title=escape(PAGE_TITLE), result=result)


def render_answer(answer: dict[str, Any], image_url: str) -> str:
    bot = answer["bot"]
    count = len(answer["aircraft"])
    heading = f"{count} aircraft" if count else "No aircraft found"
    items = "".join(
        _aircraft_item(number, found, said)
        for number, (found, said) in enumerate(
            zip(answer["aircraft"], bot["aircraft"], strict=True), start=1
        )
    )
    timings = " · ".join(f"{escape(k)} {v:.0f} ms" for k, v in answer["timings_ms"].items())
    return (
        f"<h2>{escape(heading)} in {escape(answer['image'])} "
        f"({answer['width']}&times;{answer['height']})</h2>"
        f'<figure class="photo"><img src="{escape(image_url)}" alt="{escape(bot["alt_text"])}">'
        "</figure>"
        f'<ol class="aircraft">{items}</ol>'
        f'<h3>The reply on X would say</h3><blockquote class="reply">{escape(bot["reply"])}'
        "</blockquote>"
        f'<p class="timings">{timings}</p>'
    )


def _aircraft_item(number: int, found: dict[str, Any], said: dict[str, Any]) -> str:
    types = "".join(
        f"<li>{escape(t['label'])} <span>{t['confidence']:.0%}</span></li>" for t in found["types"]
    )
    return (
        f'<li><span class="said">{escape(said["said"])}</span><ul class="types">{types}</ul></li>'
    )


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/style.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<main>
<h1>Which aircraft is this?</h1>
<p>Pick, drop or paste a photo: the bot finds every aircraft in it, boxes each one and names
its type in the words it would use on X. The photo is not kept.</p>
<form id="upload" method="post" action="/" enctype="multipart/form-data">
<label for="photo">Photo</label>
<input id="photo" name="photo" type="file" accept="image/*" required>
<button type="submit">Recognise</button>
</form>
<p id="status" role="status" aria-live="polite"></p>
<section id="result" aria-live="polite">{result}</section>
</main>
</body>
</html>
"""
