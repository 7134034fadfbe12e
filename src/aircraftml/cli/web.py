"""``aircraftml web``: only the try-a-photo page, for people who want the page and no bot."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from aircraftml.cli._options import detector_option, model_option
from aircraftml.web.limits import UploadLimits

_DEFAULTS = UploadLimits()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@model_option
@detector_option
@click.option("--threads", default=1, show_default=True, help="CPU threads for inference.")
@click.option("--max-upload-bytes", default=_DEFAULTS.max_bytes, show_default=True)
@click.option("--max-pixels", default=_DEFAULTS.max_pixels, show_default=True)
@click.option("--max-concurrent", default=_DEFAULTS.max_concurrent, show_default=True)
@click.option("--rate-per-minute", default=_DEFAULTS.per_client_per_minute, show_default=True)
def web(
    host: str,
    port: int,
    model_dir: Path | None,
    detector_path: Path | None,
    threads: int,
    max_upload_bytes: int,
    max_pixels: int,
    max_concurrent: int,
    rate_per_minute: int,
) -> None:
    """Serve the page where anyone can try a photo (the same recognizer as the bot)."""
    import uvicorn

    from aircraftml.errors import ModelError
    from aircraftml.vision.recognizer import Recognizer
    from aircraftml.web.app import TryPage, create_web_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        recognizer = Recognizer.load(
            detector_path=detector_path, classifier_dir=model_dir, threads=threads
        )
    except ModelError as exc:
        raise click.ClickException(str(exc)) from None
    limits = UploadLimits(max_upload_bytes, max_pixels, max_concurrent, rate_per_minute)
    app = create_web_app(TryPage(recognizer, limits))
    click.echo(f"the page is on http://{host}:{port}/")
    uvicorn.run(app, host=host, port=port, log_level="warning")
