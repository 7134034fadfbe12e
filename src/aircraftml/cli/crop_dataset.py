"""``aircraftml crop-dataset DATA_DIR --out CROPS_DIR``: the photos cut as the bot cuts them."""

from __future__ import annotations

from pathlib import Path

import click

from aircraftml.errors import AircraftMLError


@click.command("crop-dataset")
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write OUT/<split>/<label>/*.jpg (crops already there are kept).",
)
@click.option(
    "--detector",
    "detector_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A YOLOv8-layout ONNX detector instead of the shipped one.",
)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def crop_dataset(
    data_dir: Path, out_dir: Path, detector_path: Path | None, threads: int, quiet: bool
) -> None:
    """Cut every photo of DATA_DIR/<split>/<label>/ to its largest aircraft, with the margin
    the bot uses (wider for train/, so training's random crops jitter around it): train
    and evaluate on CROPS_DIR to see photos as the bot sees them."""
    from aircraftml.vision.detector import load_detector
    from aircraftml.vision.detector_crops import crop_dataset as cut

    try:
        counts = cut(
            data_dir, out_dir, load_detector(detector_path, threads=threads), progress=not quiet
        )
    except AircraftMLError as exc:
        raise click.ClickException(str(exc)) from None
    for split in sorted(set(counts.cropped) | set(counts.whole) | set(counts.unreadable)):
        click.echo(
            f"{split}: {counts.cropped[split]} cut to the aircraft, {counts.whole[split]} kept "
            f"whole (no aircraft found), {counts.unreadable[split]} unreadable"
        )
