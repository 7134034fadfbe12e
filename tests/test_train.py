"""End to end on a tiny synthetic dataset: ``aircraftml train`` -> ``evaluate`` -> classify.

Needs the 'train' extra (torch and the EfficientNet packages); skipped without it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from aircraftml.cli import main
from aircraftml.vision.classifier import Classifier

pytest.importorskip("torch", reason="training needs torch (the 'train' extra)")
pytest.importorskip("efficientnet_lite_pytorch", reason="training needs the 'train' extra")

PATTERNS = ("checks", "rings", "stripes")


def _pattern(kind: str, width_px: int, height_px: int, step_px: int) -> Image.Image:
    image = Image.new("RGB", (width_px, height_px), "white")
    draw = ImageDraw.Draw(image)
    if kind == "stripes":
        for y in range(0, height_px, step_px * 2):
            draw.rectangle((0, y, width_px, y + step_px - 1), fill=(200, 30, 30))
    elif kind == "checks":
        for y in range(0, height_px, step_px):
            for x in range(0, width_px, step_px):
                if (x // step_px + y // step_px) % 2:
                    draw.rectangle((x, y, x + step_px - 1, y + step_px - 1), fill=(20, 120, 20))
    else:
        cx, cy = width_px / 2, height_px / 2
        for r in range(max(width_px, height_px), 0, -step_px):
            fill = (30, 30, 200) if (r // step_px) % 2 else (255, 255, 255)
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    return image


def make_pattern_dataset(root: Path, per_split: dict[str, int]) -> None:
    """Three trivially separable classes of patterns, odd sizes, JPEG and PNG."""
    rng = random.Random(0)
    for split, count in per_split.items():
        for kind in PATTERNS:
            folder = root / split / kind
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                size = rng.choice([(64, 48), (80, 80), (50, 70)])
                image = _pattern(kind, *size, step_px=rng.randint(6, 10))
                image.save(folder / f"{i}.{'png' if i % 2 else 'jpg'}")


@pytest.mark.slow
def test_train_then_evaluate_then_classify_a_tiny_dataset(tmp_path: Path) -> None:
    # Given a tiny dataset of three patterns
    data_dir = tmp_path / "data"
    make_pattern_dataset(data_dir, {"train": 8, "val": 4, "test": 4})
    model_dir = tmp_path / "model"
    runner = CliRunner()
    # And a folder of more training photos (as `aircraftml corrections export` writes)
    added = tmp_path / "corrections"
    make_pattern_dataset(added, {"train": 1})

    # When the quick configuration trains on both through the CLI
    trained = runner.invoke(
        main,
        [
            "train",
            str(data_dir),
            "--out",
            str(model_dir),
            "--quick",
            "--quiet",
            "--add",
            str(added),
        ],
    )

    # Then a complete model directory is written, from the 24 + 3 training photos
    assert trained.exit_code == 0, trained.output
    assert {p.name for p in model_dir.iterdir()} >= {"model.onnx", "model.json", "MODEL_CARD.md"}
    assert not (model_dir / "taxonomy.json").exists()  # no tree covers these labels
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["labels"] == list(PATTERNS) and meta["temperature"] > 0
    assert meta["training"]["train_images"] == 27
    assert "no README" in (model_dir / "MODEL_CARD.md").read_text()

    # When it is evaluated on the test split
    evaluated = runner.invoke(
        main, ["evaluate", str(data_dir), "--model", str(model_dir), "--json"]
    )

    # Then the trivially separable patterns are recognised
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.output)
    assert report["count"] == 12 and report["top1"] >= 0.9

    # And the model classifies a new picture with calibrated, sorted guesses
    classifier = Classifier.load(model_dir)
    (guesses,) = classifier.classify([_pattern("rings", 90, 60, 8)], top_k=3)
    assert guesses[0].label == "rings"
    assert [g.confidence for g in guesses] == sorted((g.confidence for g in guesses), reverse=True)


@pytest.mark.slow
def test_a_refit_trains_on_train_and_val_with_what_the_first_model_chose(tmp_path: Path) -> None:
    # Given a model trained on the train split of a tiny dataset, picked on its val split
    data_dir = tmp_path / "data"
    make_pattern_dataset(data_dir, {"train": 6, "val": 4, "test": 4})
    first, refit = tmp_path / "first", tmp_path / "refit"
    runner = CliRunner()
    quick = ["--quick", "--quiet", "--epochs", "6"]
    trained = runner.invoke(main, ["train", str(data_dir), "--out", str(first), *quick])
    assert trained.exit_code == 0, trained.output
    first_meta = json.loads((first / "model.json").read_text())

    # When it is refitted on train and val together
    refit_args = ["--refit-from", str(first), "--quiet"]
    refitted = runner.invoke(main, ["train", str(data_dir), "--out", str(refit), *refit_args])

    # Then the new model keeps the first one's recipe, temperature, epochs and held-out val
    # figures, and says where they came from
    assert refitted.exit_code == 0, refitted.output
    meta = json.loads((refit / "model.json").read_text())
    assert meta["temperature"] == first_meta["temperature"]
    assert meta["training"]["best_epoch"] == first_meta["training"]["best_epoch"]
    assert meta["training"]["config"] == first_meta["training"]["config"] | {
        "epochs": first_meta["training"]["best_epoch"]
    }
    assert meta["training"]["val"] == first_meta["training"]["val"]
    assert meta["training"]["refit_of"] == first_meta["model_version"]
    assert first_meta["training"]["refit_of"] is None
    card = (refit / "MODEL_CARD.md").read_text()
    assert "12 validation images, all trained on" in card
    assert f"model {first_meta['model_version']}'s, on images it had not seen" in card
    # And it still tells the patterns apart
    evaluated = runner.invoke(main, ["evaluate", str(data_dir), "--model", str(refit), "--json"])
    assert evaluated.exit_code == 0 and json.loads(evaluated.output)["top1"] >= 0.9


def test_a_refit_from_a_folder_without_a_trained_model_fails_in_one_line(tmp_path: Path) -> None:
    # Given a data folder and a "model" folder that training did not write
    make_pattern_dataset(tmp_path / "data", {"train": 1, "val": 1})
    (tmp_path / "not-a-model").mkdir()
    # When a refit from it is asked for
    data_dir, not_a_model = tmp_path / "data", tmp_path / "not-a-model"
    args = ["train", str(data_dir), "--out", str(tmp_path / "m"), "--refit-from", str(not_a_model)]
    result = CliRunner().invoke(main, args)
    # Then it fails with one clear line, before any training
    assert result.exit_code != 0
    assert "cannot refit from" in result.output and "aircraftml train" in result.output
    assert not (tmp_path / "m").exists()


def test_train_refuses_a_folder_without_train_split_in_one_line(tmp_path: Path) -> None:
    # Given a data folder with no train/ in it
    (tmp_path / "val" / "x").mkdir(parents=True)
    # When training is asked for
    result = CliRunner().invoke(main, ["train", str(tmp_path), "--out", str(tmp_path / "m")])
    # Then it fails with one clear line
    assert result.exit_code != 0
    assert "has no train/ folder" in result.output
