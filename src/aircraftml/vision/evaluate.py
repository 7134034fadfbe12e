"""How good is a type classifier on a labelled split: accuracy, calibration, confusions.

The metric functions are pure numpy (``probabilities[N, C]``, ``labels[N]``) so training
and tests share them; :func:`evaluate_model` runs a model directory over one split of a
data folder (``DATA_DIR/<split>/<label>/*``, see ``dataset.py``) and returns an
:class:`EvaluationReport`, with accuracy per role too (civil, military...) when the folder's
``index.csv`` gives the labels roles, at the family and maker levels of the model's type
tree, and what the bot would say of each image (``naming.py``). Full photos through the
detector, as the bot sees them: ``evaluate_photos.py``.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont, ImageOps

from aircraftml.errors import AircraftMLError
from aircraftml.vision.classifier import Classifier, assess, softmax
from aircraftml.vision.dataset import list_images, read_roles
from aircraftml.vision.naming import OUTCOMES, Named, outcome_of
from aircraftml.vision.taxonomy import Taxonomy

logger = logging.getLogger(__name__)

ECE_BINS = 15
_BATCH = 32

Probabilities = npt.NDArray[np.floating[Any]]
Labels = npt.NDArray[np.integer[Any]]


class EvaluationError(AircraftMLError):
    """The data cannot be evaluated with this model (unknown labels, unreadable images)."""


# --------------------------------------------------------------------------------- metrics


def top_k_accuracy(probabilities: Probabilities, labels: Labels, k: int) -> float:
    """Fraction of rows whose true label is among the ``k`` highest probabilities."""
    if len(labels) == 0:
        return float("nan")
    k = min(k, probabilities.shape[1])
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == np.asarray(labels)[:, None], axis=1)))


def negative_log_likelihood(probabilities: Probabilities, labels: Labels) -> float:
    """Mean of -log p(true label), with p floored at 1e-12."""
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.maximum(picked, 1e-12))))


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """Predictions whose top confidence falls in ``(low, high]``."""

    low: float
    high: float
    count: int
    accuracy: float
    mean_confidence: float


def reliability_bins(
    probabilities: Probabilities, labels: Labels, n_bins: int = ECE_BINS
) -> list[ReliabilityBin]:
    """Equal-width confidence bins of the top-1 prediction (empty bins included)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = []
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if low == 0.0:
            inside |= confidence == 0.0
        count = int(inside.sum())
        bins.append(
            ReliabilityBin(
                low=float(low),
                high=float(high),
                count=count,
                accuracy=float(correct[inside].mean()) if count else 0.0,
                mean_confidence=float(confidence[inside].mean()) if count else 0.0,
            )
        )
    return bins


def expected_calibration_error(
    probabilities: Probabilities, labels: Labels, n_bins: int = ECE_BINS
) -> float:
    """ECE: the count-weighted mean |accuracy - confidence| over the reliability bins."""
    total = len(labels)
    if total == 0:
        return float("nan")
    return float(
        sum(
            b.count * abs(b.accuracy - b.mean_confidence)
            for b in reliability_bins(probabilities, labels, n_bins)
        )
        / total
    )


def fit_temperature(logits: Probabilities, labels: Labels) -> float:
    """The temperature T > 0 that minimises the NLL of ``softmax(logits / T)``: a golden
    section search over log T in [log 0.05, log 20] (the NLL is unimodal in T)."""

    def nll(log_t: float) -> float:
        return negative_log_likelihood(softmax(logits, math.exp(log_t)), labels)

    low, high = math.log(0.05), math.log(20.0)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    f_a, f_b = nll(a), nll(b)
    for _ in range(60):
        if f_a < f_b:
            high, b, f_b = b, a, f_a
            a = high - ratio * (high - low)
            f_a = nll(a)
        else:
            low, a, f_a = a, b, f_b
            b = low + ratio * (high - low)
            f_b = nll(b)
    return float(math.exp((low + high) / 2))


def confusion_matrix(predicted: Labels, labels: Labels, n_classes: int) -> npt.NDArray[np.int64]:
    """``matrix[true, predicted]`` counts."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predicted)), 1)
    return matrix


# ---------------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class GroupAccuracy:
    """Accuracy over the images of one class or one role."""

    name: str
    count: int
    top1: float
    top3: float
    family_top1: float | None = None


@dataclass(frozen=True, slots=True)
class LevelAccuracy:
    """Accuracy and calibration one level up the type tree (probabilities summed)."""

    level: str
    groups: int
    top1: float
    ece: float


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """Every figure of one evaluation; ``confusion[true, predicted]``."""

    split: str
    model_dir: str
    labels: tuple[str, ...]
    count: int
    top1: float
    top3: float
    nll: float
    ece: float
    ece_uncalibrated: float
    temperature: float
    per_class: tuple[GroupAccuracy, ...]
    per_role: tuple[GroupAccuracy, ...]
    confusion: npt.NDArray[np.int64]
    reliability: tuple[ReliabilityBin, ...]
    levels: tuple[LevelAccuracy, ...] = ()
    said: dict[str, int] = field(default_factory=dict)  # what the bot would say: outcomes

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return {
            "split": self.split,
            "model_dir": self.model_dir,
            "count": self.count,
            "top1": self.top1,
            "top3": self.top3,
            "nll": self.nll,
            "ece": self.ece,
            "ece_uncalibrated": self.ece_uncalibrated,
            "temperature": self.temperature,
            "labels": list(self.labels),
            "per_class": [_group_dict(g) for g in self.per_class],
            "per_role": [_group_dict(g) for g in self.per_role],
            "levels": [
                {"level": v.level, "groups": v.groups, "top1": v.top1, "ece": v.ece}
                for v in self.levels
            ],
            "said": self.said,
            "points_per_image": 100 / self.count if self.count else None,
            "confusion": self.confusion.tolist(),
            "reliability": [
                {
                    "low": b.low,
                    "high": b.high,
                    "count": b.count,
                    "accuracy": b.accuracy,
                    "mean_confidence": b.mean_confidence,
                }
                for b in self.reliability
            ],
        }

    def format_text(self) -> str:
        """A human-readable summary: overall, per role, the worst classes, top confusions."""
        lines = [
            f"{self.split}: {self.count} images (one = {100 / max(self.count, 1):.2f} points), "
            f"{len(self.labels)} types ({self.model_dir})",
            f"top-1 {self.top1:.2%}   top-3 {self.top3:.2%}   NLL {self.nll:.3f}",
            f"ECE ({ECE_BINS} bins) {self.ece:.4f} calibrated (T={self.temperature:.3f}), "
            f"{self.ece_uncalibrated:.4f} raw",
        ]
        lines += [
            f"{v.level} level ({v.groups} groups): top-1 {v.top1:.2%}   ECE {v.ece:.4f}"
            for v in self.levels
        ]
        if self.said:
            lines.append(
                "what the bot would say: "
                + ", ".join(f"{k} {self.said.get(k, 0)}" for k in OUTCOMES if k != "missed")
            )
        if self.per_role:
            lines.append("per role:")
            lines += [
                f"  {g.name:<12} {g.count:>5}  top-1 {g.top1:.2%}  top-3 {g.top3:.2%}"
                + (f"  family {g.family_top1:.2%}" if g.family_top1 is not None else "")
                for g in self.per_role
            ]
        lines.append("per class (worst first):")
        width = max(len(label) for label in self.labels)
        for g in sorted(self.per_class, key=lambda g: (g.top1, g.name)):
            lines.append(f"  {g.name:<{width}} {g.count:>4}  top-1 {g.top1:.2%}")
        confusions = top_confusions(self.confusion, self.labels, limit=10)
        if confusions:
            lines.append("most frequent confusions (true -> predicted):")
            lines += [f"  {n:>3}  {t} -> {p}" for n, t, p in confusions]
        return "\n".join(lines)

    def save_confusion_png(self, path: Path) -> tuple[Path, Path]:
        """Draw the confusion matrix with its labels: counts, and a normalised copy."""
        return save_confusion_pngs(path, self.confusion, self.labels, "predicted")


def _group_dict(group: GroupAccuracy) -> dict[str, Any]:
    figures = {"name": group.name, "count": group.count, "top1": group.top1, "top3": group.top3}
    if group.family_top1 is not None:
        figures["family_top1"] = group.family_top1
    return figures


def top_confusions(
    confusion: npt.NDArray[np.int64], labels: Sequence[str], limit: int
) -> list[tuple[int, str, str]]:
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    pairs = [(int(off[i, j]), labels[i], labels[j]) for i, j in zip(*np.nonzero(off), strict=True)]
    return sorted(pairs, key=lambda p: (-p[0], p[1], p[2]))[:limit]


def build_report(
    probabilities: Probabilities,
    label_indices: Labels,
    labels: Sequence[str],
    *,
    split: str,
    model_dir: str,
    temperature: float = 1.0,
    uncalibrated: Probabilities | None = None,
    roles: dict[str, str] | None = None,
    taxonomy: Taxonomy | None = None,
    named: Sequence[Named] = (),
) -> EvaluationReport:
    """All metrics from predictions (pure: no model, no files). With ``taxonomy``, also the
    family and maker levels; with ``named`` (what the bot says of each image), how often
    each outcome happens."""
    truth = np.asarray(label_indices)
    raw = probabilities if uncalibrated is None else uncalibrated
    family_right = None
    levels: list[LevelAccuracy] = []
    if taxonomy is not None:
        for level in ("family", "manufacturer"):
            groups, summed = taxonomy.group_probabilities(probabilities, level)
            group_truth = taxonomy.group_index(level)[truth]
            levels.append(
                LevelAccuracy(
                    level,
                    len(groups),
                    top_k_accuracy(summed, group_truth, 1),
                    expected_calibration_error(summed, group_truth),
                )
            )
            if level == "family":
                family_right = summed.argmax(axis=1) == group_truth
    said = (
        Counter(
            outcome_of(one, labels[int(t)], taxonomy or Taxonomy.flat(labels))
            for one, t in zip(named, truth, strict=True)
        )
        if named
        else Counter()
    )
    per_class = tuple(
        _group(label, probabilities[truth == i], truth[truth == i])
        for i, label in enumerate(labels)
        if np.any(truth == i)
    )
    per_role: tuple[GroupAccuracy, ...] = ()
    if roles:
        role_of = np.asarray([roles.get(label, "unknown") for label in labels])[truth]
        per_role = tuple(
            _group(
                role,
                probabilities[role_of == role],
                truth[role_of == role],
                None if family_right is None else family_right[role_of == role],
            )
            for role in sorted(set(role_of.tolist()))
        )
    return EvaluationReport(
        split=split,
        model_dir=model_dir,
        labels=tuple(labels),
        count=len(truth),
        top1=top_k_accuracy(probabilities, truth, 1),
        top3=top_k_accuracy(probabilities, truth, 3),
        nll=negative_log_likelihood(probabilities, truth),
        ece=expected_calibration_error(probabilities, truth),
        ece_uncalibrated=expected_calibration_error(raw, truth),
        temperature=temperature,
        per_class=per_class,
        per_role=per_role,
        confusion=confusion_matrix(probabilities.argmax(axis=1), truth, len(labels)),
        reliability=tuple(reliability_bins(probabilities, truth)),
        levels=tuple(levels),
        said=dict(said),
    )


def _group(
    name: str,
    probabilities: Probabilities,
    labels: Labels,
    family_right: npt.NDArray[np.bool_] | None = None,
) -> GroupAccuracy:
    return GroupAccuracy(
        name=name,
        count=len(labels),
        top1=top_k_accuracy(probabilities, labels, 1),
        top3=top_k_accuracy(probabilities, labels, 3),
        family_top1=None if family_right is None else float(np.mean(family_right)),
    )


# --------------------------------------------------------------------------- running it


def evaluate_model(
    data_dir: Path, model_dir: Path | None, split: str = "test", *, threads: int = 1
) -> EvaluationReport:
    """Classify every image of ``data_dir/split`` with the model (default: the shipped one)
    and measure. Labels the model does not know raise ``EvaluationError``."""
    classifier = Classifier.load(model_dir, threads=threads)
    images = list_images(data_dir, split)
    if not images:
        raise EvaluationError(f"no images in {data_dir / split}")
    index = {label: i for i, label in enumerate(classifier.labels)}
    unknown = sorted({label for _, label in images if label not in index})
    if unknown:
        raise EvaluationError(f"labels the model does not know: {', '.join(unknown)}")
    logits = _logits(classifier, [path for path, _ in images])
    truth = np.asarray([index[label] for _, label in images], dtype=np.int64)
    return build_report(
        softmax(logits, classifier.temperature),
        truth,
        classifier.labels,
        split=split,
        model_dir=str(classifier.model_dir),
        temperature=classifier.temperature,
        uncalibrated=softmax(logits),
        roles=read_roles(data_dir),
        taxonomy=classifier.taxonomy,
        named=[a.named for a in assess(logits, classifier.meta, classifier.taxonomy, top_k=3)],
    )


def _logits(classifier: Classifier, paths: Sequence[Path]) -> npt.NDArray[np.float32]:
    outs = []
    for start in range(0, len(paths), _BATCH):
        batch = [_open_rgb(p) for p in paths[start : start + _BATCH]]
        outs.append(classifier.logits(batch))
    return np.concatenate(outs)


def _open_rgb(path: Path) -> Image.Image:
    try:
        with Image.open(path) as opened:
            return ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError) as exc:
        raise EvaluationError(f"cannot read image {path}: {exc}") from exc


# ----------------------------------------------------------------------------- drawing


def save_confusion_pngs(
    path: Path, confusion: npt.NDArray[np.int64], labels: Sequence[str], columns: str
) -> tuple[Path, Path]:
    """``path`` with the counts in the cells and ``<stem>.normalised.png`` beside it with
    each row's shares in percent; both shaded by share. Returns both paths."""
    shares = path.with_name(f"{path.stem}.normalised{path.suffix or '.png'}")
    draw_confusion(confusion, labels, columns=columns).save(path, format="PNG")
    draw_confusion(confusion, labels, columns=columns, as_share=True).save(shares, format="PNG")
    return path, shares


def draw_confusion(
    confusion: npt.NDArray[np.int64],
    labels: Sequence[str],
    cell_px: int = 16,
    *,
    columns: str = "predicted",
    as_share: bool = False,
) -> Image.Image:
    """Row-normalised confusion matrix: white (0) to dark blue (1), counts (or, with
    ``as_share``, each row's percentages) in the cells, true labels on the left, ``columns``
    labels along the top (rotated), and the axes named in the top-left corner."""
    if as_share:
        cell_px = max(cell_px, 20)
    font = _font(max(9, cell_px - 5 - (4 if as_share else 0)))
    label_px = max(int(font.getlength(label)) for label in labels) + 8
    n = len(labels)
    image = Image.new("RGB", (label_px + n * cell_px + 4, label_px + n * cell_px + 4), "white")
    draw = ImageDraw.Draw(image)
    totals = np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    share = confusion / totals
    for i in range(n):
        for j in range(n):
            x, y = label_px + j * cell_px, label_px + i * cell_px
            shade = float(share[i, j])
            colour = (round(255 * (1 - 0.9 * shade)), round(255 * (1 - 0.7 * shade)), 255)
            outline = (200, 60, 60) if i == j else (225, 225, 225)
            draw.rectangle((x, y, x + cell_px - 1, y + cell_px - 1), fill=colour, outline=outline)
            if confusion[i, j]:
                ink = "white" if shade > 0.5 else "black"
                text = f"{round(100 * shade)}" if as_share else str(int(confusion[i, j]))
                draw.text(
                    (x + cell_px / 2, y + cell_px / 2), text, fill=ink, font=font, anchor="mm"
                )
        draw.text(
            (label_px - 4, label_px + i * cell_px + cell_px / 2),
            labels[i],
            fill="black",
            font=font,
            anchor="rm",
        )
    top = Image.new("RGB", (label_px, n * cell_px), "white")
    top_draw = ImageDraw.Draw(top)
    for j, label in enumerate(labels):
        top_draw.text((4, j * cell_px + cell_px / 2), label, fill="black", font=font, anchor="lm")
    # Counter-clockwise: row j becomes column j, and the text reads upwards from the matrix.
    image.paste(top.rotate(90, expand=True), (label_px, 0))
    unit = "row %" if as_share else "counts"
    for line, text in enumerate((f"rows: true ({unit})", f"columns: {columns}")):
        draw.text((4, 4 + line * (cell_px + 2)), text, fill=(120, 40, 40), font=font)
    return image


def _font(size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size_px)
    except (TypeError, ValueError, OSError):
        return ImageFont.load_default()
