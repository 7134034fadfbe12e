"""``aircraftml demo``: the whole bot against a local fake of X, with real photos."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--out",
    "out_dir",
    default=Path("demo-out"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the annotated reply images (and the demo's queue) go.",
)
@click.option(
    "--photos",
    "photos_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Also mention the bot with every JPEG/PNG in this folder.",
)
@click.option("--workers", default=2, show_default=True, help="Worker processes.")
def demo(out_dir: Path, photos_dir: Path | None, workers: int) -> None:
    """Run fake X, Mastodon and Bluesky + the bot, mention it with photos, print the replies."""
    import logging

    from aircraftml.demo import run_demo

    logging.basicConfig(level=logging.WARNING)
    extra = sorted(
        p
        for p in (photos_dir.iterdir() if photos_dir else ())
        if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")
    )
    exchanges = run_demo(out_dir, extra_photos=extra, workers=workers, echo=click.echo)
    answered = sum(e.answered for e in exchanges)
    click.echo(f"\n{answered} of {len(exchanges)} mentions answered; images in {out_dir}/")
    if answered < len(exchanges):
        raise SystemExit(1)
