"""The shipped type classifier, its model-directory checks, and the crop maths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aircraftml.errors import ModelError
from aircraftml.vision.classifier import SHIPPED_MODEL_DIR, Classifier, softmax, to_input_array
from aircraftml.vision.crop import DEFAULT_CROP_MARGIN, crop_for_classifier, crop_rectangle
from aircraftml.vision.evaluate import evaluate_model
from aircraftml.vision.types import Box

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_TYPES = REPO_ROOT.parent / "shared" / "data" / "aircraft-types-v2"

# Measured with scripts/build_classifier.py on the v2 test split cut as the bot cuts it
# (1,340 images); the test below allows a little slack for onnxruntime and Pillow versions.
SHIPPED_TEST_TOP1 = 0.7978
SHIPPED_TEST_TOP3 = 0.9112
SHIPPED_TEST_CIVIL_TOP1 = 0.7405
SHIPPED_TEST_ECE = 0.0280


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return Classifier.load()


def _gradient(width_px: int, height_px: int) -> Image.Image:
    x = np.linspace(0, 255, width_px, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, height_px, dtype=np.float32)[:, None, None]
    pixels = np.concatenate([x + 0 * y, y + 0 * x, (x + y) / 2], axis=2)
    return Image.fromarray(pixels.astype(np.uint8))


def test_shipped_model_loads_with_its_labels(shipped: Classifier) -> None:
    assert len(shipped.labels) == 72
    assert "Airbus A320" in shipped.labels
    assert shipped.temperature > 0


def test_classify_returns_sorted_top_k_that_sum_to_at_most_one(shipped: Classifier) -> None:
    # Given two crops of different sizes and modes
    crops = [_gradient(300, 120), _gradient(64, 64).convert("L")]
    # When classified
    results = shipped.classify(crops, top_k=3)
    # Then each has three distinct labels, best first, confidences in 0..1 summing <= 1
    assert len(results) == 2
    for guesses in results:
        confidences = [g.confidence for g in guesses]
        assert len(guesses) == 3 and len({g.label for g in guesses}) == 3
        assert confidences == sorted(confidences, reverse=True)
        assert 0 <= sum(confidences) <= 1 + 1e-6
    assert shipped.classify([]) == []


def test_temperature_from_model_json_scales_the_logits(tmp_path: Path, shipped: Classifier) -> None:
    # Given a copy of the shipped model with the temperature set to 3
    model_dir = tmp_path / "hot"
    shutil.copytree(SHIPPED_MODEL_DIR, model_dir)
    meta = json.loads((model_dir / "model.json").read_text())
    meta["temperature"] = 3.0
    (model_dir / "model.json").write_text(json.dumps(meta))
    crop = _gradient(200, 100)
    # When both classify the same crop
    hot = Classifier.load(model_dir)
    logits = hot.logits([crop])
    # Then the probabilities are the softmax of logits / T
    np.testing.assert_allclose(hot.probabilities([crop]), softmax(logits, 3.0), atol=1e-6)
    expected = softmax(logits, shipped.temperature)
    np.testing.assert_allclose(shipped.probabilities([crop]), expected, atol=1e-6)


def test_preprocessing_stretches_to_a_square_and_normalises() -> None:
    # Given a white 40x10 image
    batch = to_input_array([Image.new("RGB", (40, 10), "white")], 224, (127,) * 3, (128,) * 3)
    # Then it is one 3x224x224 tensor of (255 - 127) / 128
    assert batch.shape == (1, 3, 224, 224) and batch.dtype == np.float32
    np.testing.assert_allclose(batch, 1.0)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no model.json"),
        ({"model.json": "{not json"}, "cannot read"),
        ({"model.json": json.dumps({"format": "other"})}, "'format'"),
        ({"model.json": json.dumps({"format": "aircraftml-classifier"})}, "missing or invalid"),
    ],
)
def test_bad_model_dir_raises_model_error(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ModelError, match=message):
        Classifier.load(tmp_path)


def test_missing_dir_or_onnx_file_raises_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        Classifier.load(tmp_path / "nowhere")
    shutil.copy(SHIPPED_MODEL_DIR / "model.json", tmp_path / "model.json")
    with pytest.raises(ModelError, match=r"no model\.onnx"):
        Classifier.load(tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load"):
        Classifier.load(tmp_path)


def test_crop_adds_the_margin_on_every_side() -> None:
    # Given a 100x40 box in the middle of a 1000x800 photo and a 10% margin
    box = Box(400, 300, 500, 340, 0.9)
    # Then 10 px are added left and right, 4 px top and bottom
    assert crop_rectangle(box, 1000, 800, 0.10) == (390, 296, 510, 344)


def test_crop_is_clipped_at_the_image_edge() -> None:
    # Given a box touching the top-left corner and one past the bottom-right edge
    assert crop_rectangle(Box(0, 0, 50, 20, 0.9), 300, 200, 0.2) == (0, 0, 60, 24)
    assert crop_rectangle(Box(280, 190, 320, 210, 0.9), 300, 200, 0.0) == (280, 190, 300, 200)
    # And a degenerate box still gives at least one pixel
    left, top, right, bottom = crop_rectangle(Box(299.6, 10, 299.6, 10, 0.9), 300, 200)
    assert right - left >= 1 and bottom - top >= 1 and right <= 300


def test_crop_of_a_wide_box_in_a_non_square_photo_is_stretched_to_a_square() -> None:
    # Given a 640x360 photo with a red 200x50 aircraft-like box on grey
    photo = Image.new("RGB", (640, 360), (128, 128, 128))
    photo.paste((255, 0, 0), (100, 200, 300, 250))
    # When it is cropped with no margin
    crop = crop_for_classifier(photo, Box(100, 200, 300, 250, 0.9), 224, margin=0.0)
    # Then the whole crop is the red box, stretched to 224x224
    assert crop.size == (224, 224) and crop.mode == "RGB"
    assert np.asarray(crop)[..., 0].min() > 240
    # And the default margin brings some background in
    with_margin = np.asarray(crop_for_classifier(photo, Box(100, 200, 300, 250, 0.9)))
    assert DEFAULT_CROP_MARGIN > 0 and with_margin[0, 0, 0] < 200


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.skipif(not SHARED_TYPES.is_dir(), reason=f"needs {SHARED_TYPES} (shared data)")
def test_shipped_model_reaches_its_measured_test_figures(tmp_path: Path) -> None:
    from aircraftml.vision.detector import load_detector
    from aircraftml.vision.detector_crops import crop_dataset

    # Given the v2 test split cut to its aircraft as the bot cuts it
    crops = tmp_path / "crops"
    crop_dataset(SHARED_TYPES, crops, load_detector(threads=2), splits=("test",), progress=False)
    # When the shipped model is evaluated on it
    report = evaluate_model(crops, None, "test", threads=2)
    civil = {g.name: g for g in report.per_role}["civil"]
    # Then it does as well as measured when it was built
    assert report.count == 1340
    assert report.top1 >= SHIPPED_TEST_TOP1 - 0.005
    assert report.top3 >= SHIPPED_TEST_TOP3 - 0.005
    assert civil.top1 >= SHIPPED_TEST_CIVIL_TOP1 - 0.01
    assert report.ece <= SHIPPED_TEST_ECE + 0.005
