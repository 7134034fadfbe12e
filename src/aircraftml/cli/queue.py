"""``aircraftml queue``: look into the request queue and redrive its dead letters.

    aircraftml queue stats
    aircraftml queue dead-letters [--limit N] [--json]
    aircraftml queue redrive [ID ...]          (every dead letter when no ID is given)

``--queue`` (or ``AIRCRAFTML_QUEUE_URL``, the bot's own setting) is a queue URL that
``open_queue`` knows (``sqlite://var/queue.sqlite3``, ``sqs://...``) or a queue file.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import click

from aircraftml.config import DEFAULT_QUEUE_URL
from aircraftml.errors import AircraftMLError, ConfigError
from aircraftml.queue import RequestQueue, open_queue
from aircraftml.queue.sqlite import SqliteQueue


@click.group()
@click.option(
    "--queue",
    "location",
    envvar="AIRCRAFTML_QUEUE_URL",
    default=DEFAULT_QUEUE_URL,
    show_default=True,
    help="The queue URL, or a queue file (env: AIRCRAFTML_QUEUE_URL).",
)
@click.pass_context
def queue(ctx: click.Context, location: str) -> None:
    """Look into the request queue and redrive its dead letters."""
    ctx.obj = location


@queue.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """How many messages are ready, in flight, delayed and dead, and the oldest one's age."""
    counts = dataclasses.asdict(_open(ctx).stats())
    if as_json:
        click.echo(json.dumps(counts))
        return
    oldest_age_s = counts.pop("oldest_age_s")
    for name, count in counts.items():
        click.echo(f"{name.replace('_', ' '):<10}{count:>8}")
    click.echo(f"{'oldest':<10}{_age(oldest_age_s):>8}")


@queue.command("dead-letters")
@click.option("--limit", default=100, show_default=True, help="List at most this many.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def dead_letters(ctx: click.Context, limit: int, as_json: bool) -> None:
    """The dead letters, oldest first: id, receive count, when, and why."""
    opened = _open(ctx)
    letters = opened.dead_letters(limit=limit)
    dead = opened.stats().dead if len(letters) >= limit else len(letters)
    for letter in letters:
        when = datetime.fromtimestamp(letter.dead_at_epoch_s, UTC).isoformat(timespec="seconds")
        if as_json:
            record = {
                "id": letter.id,
                "receive_count": letter.receive_count,
                "dead_at": when,
                "reason": letter.reason,
                "body": letter.body,
            }
            click.echo(json.dumps(record))
        else:
            click.echo(f"{letter.id}  {letter.receive_count:>3}  {when}  {letter.reason}")
    if dead > len(letters):
        click.echo(
            f"{len(letters)} of {dead} dead letters listed (the oldest); --limit to list more",
            err=True,
        )
    elif not as_json:
        click.echo(f"{len(letters)} dead letter(s) listed", err=True)


@queue.command()
@click.argument("ids", nargs=-1)
@click.pass_context
def redrive(ctx: click.Context, ids: tuple[str, ...]) -> None:
    """Move dead letters back to the queue (all of them when no ID is given)."""
    moved = _open(ctx).redrive(list(ids) if ids else None)
    click.echo(f"redrove {moved} message(s)")
    if ids and moved < len(set(ids)):
        raise click.ClickException(f"{len(set(ids)) - moved} id(s) were not dead letters")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _open(ctx: click.Context) -> RequestQueue:
    location: str = ctx.obj
    try:
        path = Path(location.removeprefix("sqlite://"))
        if "://" in location and not location.startswith("sqlite://"):
            opened = open_queue(location)
        else:
            opened = SqliteQueue.open_existing(path)
    except ConfigError as exc:
        raise click.ClickException(f"{exc} (set --queue or AIRCRAFTML_QUEUE_URL)") from exc
    except AircraftMLError as exc:
        raise click.ClickException(str(exc)) from exc
    ctx.call_on_close(opened.close)
    return opened
