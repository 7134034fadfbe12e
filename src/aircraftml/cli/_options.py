"""Options that several commands take, defined once."""

from __future__ import annotations

from pathlib import Path

import click

model_option = click.option(
    "--model",
    "model_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A type classifier written by `aircraftml train` (default: the shipped one).",
)
detector_option = click.option(
    "--detector",
    "detector_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An ONNX detector: COCO-SSD (shipped) or a YOLOv8 export.",
)
