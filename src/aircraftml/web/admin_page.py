"""The operator's dashboard as HTML. Everything shown that came from users or the network
(post texts, handles, reasons, model cards) is escaped."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from aircraftml.queue.base import DeadLetter, QueueStats
from aircraftml.recent import RecentReply
from aircraftml.web.activity import Bucket


@dataclass(frozen=True, slots=True)
class Dashboard:
    stats: QueueStats
    oldest_age_s: float | None
    replies: Sequence[RecentReply]
    dead_letters: Sequence[DeadLetter]
    workers: str
    buckets: Sequence[Bucket]
    model_cards: Sequence[tuple[str, str]]
    csrf: str
    notice: str = ""


def render_login(error: str = "") -> str:
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        "<h1>Operator's dashboard</h1>"
        f"{alert}"
        '<form method="post" action="/admin/login">'
        '<label for="token">Admin token</label> '
        '<input id="token" name="token" type="password" autocomplete="current-password" required>'
        ' <button type="submit">Sign in</button></form>'
    )
    return _page("Sign in", body)


def render_dashboard(board: Dashboard) -> str:
    notice = f'<p class="notice" role="status">{escape(board.notice)}</p>' if board.notice else ""
    body = (
        "<h1>Operator's dashboard</h1>"
        + notice
        + _queue(board.stats, board.oldest_age_s)
        + f'<h2>Workers</h2><p id="workers">{escape(board.workers)}</p>'
        + _chart(board.buckets)
        + _replies(board.replies)
        + _dead_letters(board.dead_letters, board.csrf)
        + _models(board.model_cards)
    )
    return _page("Dashboard", body)


def _queue(stats: QueueStats, oldest_age_s: float | None) -> str:
    cells = "".join(
        f"<tr><th scope=row>{name}</th><td>{value}</td></tr>"
        for name, value in (
            ("ready", stats.ready),
            ("in flight", stats.in_flight),
            ("delayed", stats.delayed),
            ("dead", stats.dead),
        )
    )
    age = "" if oldest_age_s is None else f"<p>Oldest message: {oldest_age_s:.0f} s old</p>"
    return f'<h2>Queue</h2><table id="queue">{cells}</table>{age}'


def _chart(buckets: Sequence[Bucket]) -> str:
    if not buckets:
        return ""
    width, height, pad = 600, 120, 16
    peak = max(1.0, *(max(b.mentions, b.replies) for b in buckets))
    step = (width - 2 * pad) / len(buckets)
    bars = []
    for n, bucket in enumerate(buckets):
        x = pad + n * step
        for offset, value, cls in ((0.0, bucket.mentions, "m"), (step / 2, bucket.replies, "r")):
            h = (height - 2 * pad) * value / peak
            bars.append(
                f'<rect class="{cls}" x="{x + offset:.1f}" y="{height - pad - h:.1f}" '
                f'width="{max(step / 2 - 1, 1):.1f}" height="{h:.1f}"></rect>'
            )
    since = time.strftime("%H:%M", time.gmtime(buckets[0].start_epoch_s))
    total_m = sum(b.mentions for b in buckets)
    total_r = sum(b.replies for b in buckets)
    return (
        "<h2>Mentions and replies</h2>"
        f'<svg id="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{total_m:.0f} mentions and {total_r:.0f} replies since {since} UTC">'
        + "".join(bars)
        + f'<text x="{pad}" y="{pad - 4}">peak {peak:.0f} per 10 min</text></svg>'
        f'<p class="legend"><span class="m">mentions</span> <span class="r">replies</span>, '
        f"per 10 minutes since {since} UTC (since this process started)</p>"
    )


def _replies(replies: Sequence[RecentReply]) -> str:
    if not replies:
        return "<h2>Last replies</h2><p>None yet.</p>"
    rows = []
    for reply in replies:
        thumb = (
            f'<img src="data:image/jpeg;base64,{escape(reply.thumbnail_jpeg_base64)}" alt="">'
            if reply.thumbnail_jpeg_base64
            else ""
        )
        latency = "" if reply.latency_s is None else f"{reply.latency_s:.1f} s"
        at = time.strftime("%H:%M:%S", time.gmtime(reply.at_epoch_s))
        rows.append(
            f"<tr><td>{thumb}</td><td>{escape(reply.text)}</td><td>{at}</td><td>{latency}</td></tr>"
        )
    return (
        '<h2>Last replies</h2><table id="replies"><tr><th>picture</th><th>text</th>'
        "<th>at (UTC)</th><th>mention to reply</th></tr>" + "".join(rows) + "</table>"
    )


def _dead_letters(letters: Sequence[DeadLetter], csrf: str) -> str:
    if not letters:
        return "<h2>Dead letters</h2><p>None.</p>"
    items = []
    for letter in letters:
        items.append(
            f'<li class="dead-letter"><p>{escape(_describe_body(letter.body))}</p>'
            f'<p class="reason">{escape(letter.reason)}</p>'
            '<form method="post" action="/admin/redrive">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            f'<input type="hidden" name="id" value="{escape(letter.id)}">'
            f'<button type="submit">Redrive {escape(letter.id)}</button></form></li>'
        )
    return f'<h2>Dead letters</h2><ul id="dead-letters">{"".join(items)}</ul>'


def _describe_body(body: str) -> str:
    try:
        data = json.loads(body)
        return f"post {data['post_id']} by @{data['author_handle']}: {data['text']}"
    except (ValueError, KeyError, TypeError):
        return body[:200]


def _models(cards: Sequence[tuple[str, str]]) -> str:
    items = "".join(
        f"<details><summary>{escape(title)}</summary><pre>{escape(text)}</pre></details>"
        for title, text in cards
    )
    return f"<h2>Models</h2>{items}"


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>AircraftML: {escape(title)}</title>"
        '<link rel="stylesheet" href="/static/style.css">'
        '<link rel="stylesheet" href="/static/admin.css">'
        f"</head><body><main>{body}</main></body></html>"
    )
