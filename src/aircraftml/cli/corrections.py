"""``aircraftml corrections``: what people told the bot about its answers.

    aircraftml corrections export DIR      DIR/train/<label>/*.jpg + DIR/corrections.csv

``--state`` (or ``AIRCRAFTML_STATE_URL``, the bot's own setting) is the state store the
bot keeps them in. Train on them with ``aircraftml train DATA --add DIR``.
"""

from __future__ import annotations

from pathlib import Path

import click

from aircraftml.config import DEFAULT_STATE_URL
from aircraftml.errors import AircraftMLError


@click.group()
@click.option(
    "--state",
    "state_url",
    envvar="AIRCRAFTML_STATE_URL",
    default=DEFAULT_STATE_URL,
    show_default=True,
    help="The state store URL (env: AIRCRAFTML_STATE_URL).",
)
@click.pass_context
def corrections(ctx: click.Context, state_url: str) -> None:
    """Corrections people sent in reply to the bot's answers."""
    ctx.obj = state_url


@corrections.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def export(ctx: click.Context, out_dir: Path) -> None:
    """Write the corrections with a type as a training folder in OUT_DIR."""
    from aircraftml.learning_export import export_corrections
    from aircraftml.state import open_state

    try:
        state = open_state(ctx.obj)
        try:
            counts = export_corrections(state, out_dir)
        finally:
            state.close()
    except AircraftMLError as exc:
        raise click.ClickException(str(exc)) from None
    total = sum(counts.values())
    detail = ", ".join(f"{label} {n}" for label, n in sorted(counts.items()))
    click.echo(
        f"wrote {total} corrections to {out_dir / 'train'}" + (f": {detail}" if detail else "")
    )
