"""``aircraftml evaluate DATA_DIR --model MODEL_DIR``: accuracy and calibration on a split."""

from __future__ import annotations

import json
from pathlib import Path

import click

from aircraftml.errors import AircraftMLError


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--model",
    "model_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A model directory written by `aircraftml train` (default: the shipped one).",
)
@click.option("--split", default="test", show_default=True, help="The folder under DATA_DIR.")
@click.option("--json", "as_json", is_flag=True, help="Print every figure as one JSON object.")
@click.option(
    "--confusion",
    "confusion_png",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw the confusion matrix into this PNG file.",
)
@click.option("--threads", default=1, show_default=True, help="CPU threads for inference.")
def evaluate(
    data_dir: Path,
    model_dir: Path | None,
    split: str,
    as_json: bool,
    confusion_png: Path | None,
    threads: int,
) -> None:
    """Top-1/top-3 accuracy (overall, per class, per role when DATA_DIR/index.csv has a role
    column), calibration error and confusions of the type classifier on DATA_DIR/SPLIT."""
    from aircraftml.vision.evaluate import evaluate_model

    try:
        report = evaluate_model(data_dir, model_dir, split, threads=threads)
    except AircraftMLError as exc:
        raise click.ClickException(str(exc)) from None
    if confusion_png is not None:
        report.save_confusion_png(confusion_png)
    click.echo(json.dumps(report.to_dict()) if as_json else report.format_text())
