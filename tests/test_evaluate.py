"""Metrics of the type classifier on hand-made predictions (no model, no files)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aircraftml.vision.classifier import softmax
from aircraftml.vision.evaluate import (
    build_report,
    confusion_matrix,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_bins,
    top_k_accuracy,
)

LABELS = ("A320", "B737", "Spitfire")


def _probs(rows: list[list[float]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float64)


def test_top_k_accuracy_counts_the_true_label_among_the_k_best() -> None:
    # Given three predictions: right, second-best, third-best
    probs = _probs([[0.7, 0.2, 0.1], [0.5, 0.3, 0.2], [0.6, 0.3, 0.1]])
    truth = np.array([0, 1, 2])
    # Then top-1 sees one hit, top-2 two, top-3 all
    assert top_k_accuracy(probs, truth, 1) == pytest.approx(1 / 3)
    assert top_k_accuracy(probs, truth, 2) == pytest.approx(2 / 3)
    assert top_k_accuracy(probs, truth, 3) == 1.0


def test_ece_is_zero_when_confidence_matches_accuracy_and_the_gap_otherwise() -> None:
    # Given four predictions at confidence 0.75 of which three are right
    probs = _probs([[0.75, 0.25, 0.0]] * 4)
    # Then accuracy equals confidence in the one bin: no calibration error
    assert expected_calibration_error(probs, np.array([0, 0, 0, 1])) == pytest.approx(0.0)
    # And when all four are right, the error is the gap 1 - 0.75
    assert expected_calibration_error(probs, np.array([0, 0, 0, 0])) == pytest.approx(0.25)


def test_ece_weights_each_bin_by_its_share_of_predictions() -> None:
    # Given one prediction at 0.95 (right) and three at 0.55 (one right)
    probs = _probs([[0.95, 0.05, 0.0]] + [[0.55, 0.45, 0.0]] * 3)
    truth = np.array([0, 0, 1, 1])
    # When binned into 15 bins
    bins = [b for b in reliability_bins(probs, truth) if b.count]
    # Then two bins hold 1 and 3 predictions, and ECE = (1*0.05 + 3*|1/3-0.55|) / 4
    assert [b.count for b in bins] == [3, 1]
    expected = (1 * 0.05 + 3 * abs(1 / 3 - 0.55)) / 4
    assert expected_calibration_error(probs, truth) == pytest.approx(expected)
    assert len(reliability_bins(probs, truth)) == 15


def test_confusion_matrix_rows_are_truth_and_columns_predictions() -> None:
    matrix = confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 0, 1, 2]), 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_fit_temperature_recovers_the_temperature_that_generated_the_labels() -> None:
    # Given labels drawn from softmax(logits / 2)
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, size=(4000, 5))
    probs = softmax(logits, 2.0).astype(np.float64)
    truth = np.array([rng.choice(5, p=p / p.sum()) for p in probs])
    # When a temperature is fitted by NLL
    temperature = fit_temperature(logits, truth)
    # Then it is close to 2, and it does at least as well as T=1
    assert temperature == pytest.approx(2.0, rel=0.1)
    assert negative_log_likelihood(softmax(logits, temperature), truth) <= (
        negative_log_likelihood(softmax(logits), truth)
    )


def test_report_gives_per_class_per_role_json_text_and_a_png(tmp_path: Path) -> None:
    # Given predictions for two civil and one military image, the second civil one wrong
    probs = _probs([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    roles = {"A320": "civil", "B737": "civil", "Spitfire": "military"}
    # When a report is built
    report = build_report(
        probs, np.array([0, 1, 2]), LABELS, split="test", model_dir="m", roles=roles
    )
    # Then the figures are right per class and per role
    assert report.top1 == pytest.approx(2 / 3)
    assert {g.name: g.top1 for g in report.per_class} == {"A320": 1.0, "B737": 0.0, "Spitfire": 1.0}
    assert {g.name: (g.count, g.top1) for g in report.per_role} == {
        "civil": (2, 0.5),
        "military": (1, 1.0),
    }
    assert report.confusion[1, 0] == 1
    # And it serialises to JSON, reads as text, and draws a confusion PNG
    data = json.loads(json.dumps(report.to_dict()))
    assert data["top3"] == 1.0 and len(data["reliability"]) == 15
    assert "B737 -> A320" in report.format_text()
    png = tmp_path / "confusion.png"
    report.save_confusion_png(png)
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 3 * 16


def test_nll_is_log_of_the_true_class_probability() -> None:
    probs = _probs([[0.5, 0.5, 0.0], [0.25, 0.75, 0.0]])
    assert negative_log_likelihood(probs, np.array([0, 1])) == pytest.approx(
        -(math.log(0.5) + math.log(0.75)) / 2
    )
