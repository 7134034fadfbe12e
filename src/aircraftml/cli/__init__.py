"""The ``aircraftml`` command line: one module per command group."""

from __future__ import annotations

import click

from aircraftml import __version__


@click.group()
@click.version_option(__version__, prog_name="aircraftml")
def main() -> None:
    """Find every aircraft in a photo, name its type, and answer mentions on X."""


def _register() -> None:
    from aircraftml.cli import classify, demo
    from aircraftml.cli import corrections as corrections_cli
    from aircraftml.cli import crop_dataset as crop_dataset_cli
    from aircraftml.cli import evaluate as evaluate_cli
    from aircraftml.cli import fake_bluesky as fake_bluesky_cli
    from aircraftml.cli import fake_mastodon as fake_mastodon_cli
    from aircraftml.cli import fake_x as fake_x_cli
    from aircraftml.cli import queue as queue_cli
    from aircraftml.cli import serve as serve_cli
    from aircraftml.cli import train as train_cli
    from aircraftml.cli import web as web_cli
    from aircraftml.cli import x as x_cli

    main.add_command(classify.classify)
    main.add_command(corrections_cli.corrections)
    main.add_command(crop_dataset_cli.crop_dataset)
    main.add_command(demo.demo)
    main.add_command(fake_bluesky_cli.fake_bluesky)
    main.add_command(fake_mastodon_cli.fake_mastodon)
    main.add_command(fake_x_cli.fake_x)
    main.add_command(queue_cli.queue)
    main.add_command(serve_cli.poll)
    main.add_command(serve_cli.serve)
    main.add_command(serve_cli.webhook)
    main.add_command(serve_cli.worker)
    main.add_command(train_cli.train)
    main.add_command(evaluate_cli.evaluate)
    main.add_command(x_cli.x)
    main.add_command(web_cli.web)


_register()
