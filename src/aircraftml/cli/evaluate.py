"""``aircraftml evaluate``: accuracy and calibration on a split, or on full photos."""

from __future__ import annotations

import json
from pathlib import Path

import click

from aircraftml.errors import AircraftMLError


@click.command()
@click.argument(
    "data_dir", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A model directory written by `aircraftml train` (default: the shipped one).",
)
@click.option("--split", default="test", show_default=True, help="The folder under DATA_DIR.")
@click.option(
    "--photos",
    "photo_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Instead of a split: full photos listed in PHOTOS/labels.csv (file,label; an empty "
    "label is a type the bot must not claim), through the detector as the bot sees them.",
)
@click.option(
    "--detector",
    "detector_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --photos: a YOLOv8-layout ONNX detector instead of the shipped one.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every figure as one JSON object.")
@click.option(
    "--confusion",
    "confusion_png",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw the confusion matrix into this PNG (counts) and a normalised copy beside "
    "it (NAME.normalised.png).",
)
@click.option("--threads", default=1, show_default=True, help="CPU threads for inference.")
def evaluate(
    data_dir: Path | None,
    model_dir: Path | None,
    split: str,
    photo_dir: Path | None,
    detector_path: Path | None,
    as_json: bool,
    confusion_png: Path | None,
    threads: int,
) -> None:
    """Top-1/top-3 accuracy (overall, per class, per role when DATA_DIR/index.csv has a role
    column, at the family and maker levels), calibration error, what the bot would say, and
    confusions of the type classifier on DATA_DIR/SPLIT; or, with --photos, how the whole
    bot does on full photos."""
    if (data_dir is None) == (photo_dir is None):
        raise click.UsageError("give either DATA_DIR (a labelled split) or --photos DIR")
    try:
        if photo_dir is not None:
            _evaluate_photos(photo_dir, model_dir, detector_path, as_json, confusion_png, threads)
            return
        assert data_dir is not None
        from aircraftml.vision.evaluate import evaluate_model

        report = evaluate_model(data_dir, model_dir, split, threads=threads)
        if confusion_png is not None:
            report.save_confusion_png(confusion_png)
        click.echo(json.dumps(report.to_dict()) if as_json else report.format_text())
    except AircraftMLError as exc:
        raise click.ClickException(str(exc)) from None


def _evaluate_photos(
    photo_dir: Path,
    model_dir: Path | None,
    detector_path: Path | None,
    as_json: bool,
    confusion_png: Path | None,
    threads: int,
) -> None:
    from aircraftml.vision.evaluate import save_confusion_pngs
    from aircraftml.vision.evaluate_photos import evaluate_photos
    from aircraftml.vision.recognizer import Recognizer

    recognizer = Recognizer.load(  # types are judged: registrations would only cost time
        detector_path=detector_path,
        classifier_dir=model_dir,
        threads=threads,
        read_registrations=False,
    )
    evaluation = evaluate_photos(photo_dir, recognizer, progress=not as_json)
    if confusion_png is not None and evaluation.known:
        names, counts = evaluation.confusion()
        save_confusion_pngs(confusion_png, counts, names, "what the bot named")
    click.echo(json.dumps(evaluation.to_dict()) if as_json else evaluation.format_text())
