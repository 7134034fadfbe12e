"""``aircraftml train DATA_DIR --out MODEL_DIR``: fine-tune the type classifier (on a CPU, or
a GPU when torch sees one)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import click

from aircraftml.errors import AircraftMLError


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The model directory to write (model.onnx, model.json, MODEL_CARD.md).",
)
@click.option("--epochs", type=click.IntRange(min=1), help="Training epochs.")
@click.option("--views", type=click.IntRange(min=1), help="Augmented views per training image.")
@click.option(
    "--fine-tune-from",
    "fine_tune_from",
    type=click.IntRange(min=0),
    help="The first of the backbone's blocks that trains (default 8; the ones before are "
    "frozen and their features cached). 0: every block, on fresh views each epoch (no "
    "cache; slow on a CPU, and on a GPU when torch sees one).",
)
@click.option("--seed", type=int, help="Random seed (default 0).")
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads (default 2).")
@click.option("--quick", is_flag=True, help="A tiny configuration for smoke tests.")
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the frozen backbone's features here and reuse them on the next run.",
)
@click.option(
    "--refit-from",
    "refit_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A model trained here on train/ alone: train again on train/ and val/ together, "
    "with its recipe, for the epochs and with the temperature it chose on val/.",
)
@click.option(
    "--taxonomy",
    "taxonomy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The type tree (family, maker per label) to ship with the model (default: "
    "DATA_DIR/taxonomy.json, else the shipped model's when it covers every label).",
)
@click.option(
    "--add",
    "add_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Another folder whose train/<label>/ photos join the training split (e.g. from "
    "`aircraftml corrections export`); repeatable.",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train(
    data_dir: Path,
    out_dir: Path,
    epochs: int | None,
    views: int | None,
    fine_tune_from: int | None,
    seed: int | None,
    threads: int | None,
    quick: bool,
    cache_dir: Path | None,
    refit_dir: Path | None,
    taxonomy_file: Path | None,
    add_dirs: tuple[Path, ...],
    quiet: bool,
) -> None:
    """Fine-tune the aircraft type classifier on DATA_DIR/train/<label>/* (any image format,
    any size), pick the epoch and calibrate on DATA_DIR/val/<label>/*, write MODEL_DIR.
    With --refit-from, train again on both splits with what that model chose on val.

    Needs the 'train' extra: pip install torch==2.13.0 'aircraftml[train]'.
    """
    from tqdm.contrib.logging import logging_redirect_tqdm

    from aircraftml.vision.train import Refit, starting_recipe, train_classifier

    # Our progress lines (cache hits, each epoch's val figures, the export check), printed
    # through the progress bars rather than over them.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    logging.getLogger("aircraftml").setLevel(logging.WARNING if quiet else logging.INFO)
    try:
        refit = Refit.read(refit_dir) if refit_dir is not None else None
        config = starting_recipe(refit, quick=quick)  # the options given here still win
        if views is not None:
            config = replace(config, views_per_image=views)
        if fine_tune_from is not None:
            config = replace(config, fine_tune_from_block=fine_tune_from)
        if threads is not None:
            config = replace(config, threads=threads)
        with logging_redirect_tqdm():
            result = train_classifier(
                data_dir,
                out_dir,
                epochs=epochs,
                seed=seed,
                config=config,
                cache_dir=cache_dir,
                refit=refit,
                progress=not quiet,
                taxonomy_file=taxonomy_file,
                add_dirs=add_dirs,
            )
    except AircraftMLError as exc:
        raise click.ClickException(str(exc)) from None
    held_out = f"model {refit.model_version}'s " if refit else ""
    click.echo(
        f"wrote {result.model_dir}: {len(result.labels)} types, epoch {result.best_epoch}, "
        f"{held_out}val top-1 {result.val_top1:.2%}, top-3 {result.val_top3:.2%}, "
        f"ECE {result.val_ece_uncalibrated:.4f} -> {result.val_ece:.4f} "
        f"(T={result.temperature:.3f}), "
        f"{result.seconds:.0f} s"
    )
