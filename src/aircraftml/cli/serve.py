"""``aircraftml serve`` (the whole bot); ``webhook`` and ``worker`` (its halves, for scale-out)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from aircraftml.config import Settings
from aircraftml.errors import ConfigError, ModelError
from aircraftml.metrics_dir import use_multiprocess_dir

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="AIRCRAFTML_CONFIG",
    help="A TOML file of settings; AIRCRAFTML_* environment variables override it.",
)


def load_settings(config_file: Path | None) -> Settings:
    """The settings, every one checked; one line naming the setting when one is wrong, and a
    warning for each ``AIRCRAFTML_*`` variable that is no setting."""
    for warning in Settings.unknown_variables(os.environ):
        click.echo(f"Warning: {warning}", err=True)
    try:
        return Settings.load(os.environ, config_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def start_up_errors() -> Iterator[None]:
    """A setting, backend or model found wrong while starting: one line naming it, no
    traceback."""
    try:
        yield
    except (ConfigError, ModelError) as exc:
        raise click.ClickException(str(exc)) from None


def _logging(verbose: bool, log_format: str = "text") -> int:
    from aircraftml.logs import configure_logging

    level = logging.DEBUG if verbose else logging.INFO
    configure_logging(level, log_format)
    return level


@click.command()
@config_option
@click.option("-v", "--verbose", is_flag=True)
def serve(config_file: Path | None, verbose: bool) -> None:
    """Run the whole bot: webhook, durable queue and worker processes."""
    settings = load_settings(config_file)
    use_multiprocess_dir(settings.metrics_dir)  # before any metric exists: workers count too
    from aircraftml.serve import serve as run

    with start_up_errors():
        run(settings, log_level=_logging(verbose, settings.log_format))


@click.command()
@config_option
@click.option("-v", "--verbose", is_flag=True)
def webhook(config_file: Path | None, verbose: bool) -> None:
    """Run only the webhook, queueing mentions for workers that run elsewhere."""
    from aircraftml.serve import serve as run

    settings = load_settings(config_file)
    with start_up_errors():
        run(settings, log_level=_logging(verbose, settings.log_format), workers=False)


@click.command()
@config_option
@click.option("-v", "--verbose", is_flag=True)
def worker(config_file: Path | None, verbose: bool) -> None:
    """Run one worker process against the configured (shared) queue and state."""
    from aircraftml.serve import run_worker

    settings = load_settings(config_file)
    _logging(verbose, settings.log_format)
    with start_up_errors():
        run_worker(settings)


@click.command()
@config_option
@click.option("-v", "--verbose", is_flag=True)
def poll(config_file: Path | None, verbose: bool) -> None:
    """Poll the networks without webhooks (Mastodon, Bluesky) into the shared queue."""
    from aircraftml.serve import run_pollers

    settings = load_settings(config_file)
    _logging(verbose, settings.log_format)
    with start_up_errors():
        run_pollers(settings)
