"""``aircraftml classify PHOTO...``: every aircraft in each photo, with box, score and types."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from aircraftml.cli._options import detector_option, model_option
from aircraftml.errors import ConfigError, ModelError, PhotoError
from aircraftml.reply import describe_aircraft
from aircraftml.vision.recognizer import FoundAircraft, Recognition


@click.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per photo, one per line.")
@click.option(
    "--annotate",
    "annotate_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write a copy of each photo with boxes and labels drawn into this folder.",
)
@model_option
@detector_option
@click.option(
    "--registry",
    "registry_path",
    type=click.Path(exists=True, path_type=Path),
    envvar="AIRCRAFTML_REGISTRY",
    help="Registrations -> exact types: an FAA database folder (MASTER.txt, ACFTREF.txt) or "
    "a registration,type CSV. [env: AIRCRAFTML_REGISTRY]",
)
@click.option(
    "--no-registration",
    "skip_registration",
    is_flag=True,
    help="Do not read registrations (they are read when the registration extra is installed).",
)
@click.option("--threads", default=1, show_default=True, help="CPU threads for inference.")
def classify(
    photos: tuple[Path, ...],
    as_json: bool,
    annotate_dir: Path | None,
    model_dir: Path | None,
    detector_path: Path | None,
    registry_path: Path | None,
    skip_registration: bool,
    threads: int,
) -> None:
    """Find every aircraft in each PHOTO and name its type.

    A photo that cannot be read gets a one-line error on stderr; the others are still
    answered, and the exit status is 1.
    """
    from aircraftml.vision.image import read_photo_bytes
    from aircraftml.vision.recognizer import Recognizer

    try:
        recognizer = Recognizer.load(
            detector_path=detector_path,
            classifier_dir=model_dir,
            threads=threads,
            read_registrations=not skip_registration,
            registry_path=registry_path,
        )
    except (ModelError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    if annotate_dir is not None:
        annotate_dir.mkdir(parents=True, exist_ok=True)

    failures = 0
    for path in photos:
        try:
            recognition = recognizer.recognize_bytes(read_photo_bytes(path))
        except PhotoError as exc:
            failures += 1
            click.echo(f"{path}: error: {exc}", err=True)
            continue
        if as_json:
            click.echo(json.dumps(recognition.to_dict(str(path))))
        else:
            click.echo(format_recognition(str(path), recognition))
        if annotate_dir is not None:
            _write_annotated(annotate_dir, path, recognition)
    if failures:
        sys.exit(1)


def _write_annotated(folder: Path, photo_path: Path, recognition: Recognition) -> None:
    from aircraftml.vision.annotate import annotate, encode_jpeg

    out = folder / f"{photo_path.stem}.annotated.jpg"
    out.write_bytes(encode_jpeg(annotate(recognition)))


def format_recognition(name: str, recognition: Recognition) -> str:
    """A few readable lines: the photo, then each aircraft with its box and top types."""
    photo = recognition.photo
    count = len(recognition.aircraft)
    noun = "aircraft" if count else "no aircraft found"
    head = (
        f"{name} ({photo.width}x{photo.height}): {count} {noun}"
        if count
        else (f"{name} ({photo.width}x{photo.height}): {noun}")
    )
    lines = [head]
    for number, found in enumerate(recognition.aircraft, start=1):
        x0, y0, x1, y1 = found.box
        lines.append(f"  {number}. box ({x0}, {y0})-({x1}, {y1})  detector score {found.score:.2f}")
        lines.append(f"     {describe_aircraft(found)}")
        types = "   ".join(f"{t.label} {t.confidence:.0%}" for t in found.types)
        levels = [g for g in (found.family, found.manufacturer) if g and g.n_types > 1]
        groups = "".join(f"   [{g.name} {g.confidence:.0%}]" for g in levels)
        lines.append(f"     {types}{groups}")
        if found.registration is not None:
            lines.append(f"     {_registration_line(found)}")
    return "\n".join(lines)


def _registration_line(found: FoundAircraft) -> str:
    registration = found.registration
    assert registration is not None
    rx0, ry0, rx1, ry1 = registration.box
    line = (
        f"registration {registration.text} ({registration.country}) "
        f"{registration.confidence:.0%} at ({rx0}, {ry0})-({rx1}, {ry1})"
    )
    if found.registered_type:
        line += f"; registry: {found.registered_type}"
    return line
