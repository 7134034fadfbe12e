"""The aircraft type classifier: one ONNX session, loaded once, many crops per call.

A model directory (written by ``aircraftml train``) holds:

- ``model.onnx``: input ``input`` float32 ``[N, 3, size, size]`` (normalised RGB), output
  ``logits`` float32 ``[N, len(labels)]``;
- ``model.json``: the labels in output order, the input size, the normalisation
  (``(pixel - mean) / std`` per channel), the temperature that calibrates the softmax,
  the crop margin the detector's boxes get, and versions;
- ``MODEL_CARD.md``: what it was trained on, under which terms, how well it does;
- ``taxonomy.json`` (optional): each label's family and manufacturer (``taxonomy.py``).

``model.json`` may also hold the open-set rule that says a crop is none of the labels
(``open_set.py``).

Preprocessing and the softmax are pure functions, so training and evaluation share them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from aircraftml.errors import ModelError
from aircraftml.vision.naming import SURE_CONFIDENCE, Named, name_of
from aircraftml.vision.open_set import OpenSetRule
from aircraftml.vision.taxonomy import Taxonomy
from aircraftml.vision.types import LevelGuess, TypeGuess

logger = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
META_FILE = "model.json"
CARD_FILE = "MODEL_CARD.md"
META_FORMAT = "aircraftml-classifier"
META_FORMAT_VERSION = 1
SHIPPED_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "classifier"

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class ClassifierMeta:
    """What ``model.json`` says about the network in ``model.onnx``."""

    labels: tuple[str, ...]
    input_size_px: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    temperature: float
    crop_margin: float
    model_version: str
    open_set: OpenSetRule | None = None

    def to_dict(self) -> dict[str, Any]:
        open_set = {"open_set": self.open_set.to_dict()} if self.open_set else {}
        return open_set | {
            "format": META_FORMAT,
            "format_version": META_FORMAT_VERSION,
            "model_version": self.model_version,
            "labels": list(self.labels),
            "input_size_px": self.input_size_px,
            "mean": list(self.mean),
            "std": list(self.std),
            "temperature": self.temperature,
            "crop_margin": self.crop_margin,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassifierMeta:
        """Read and check ``model.json``'s content; a bad field raises ``ModelError``."""
        if data.get("format") != META_FORMAT:
            raise ModelError(f"{META_FILE}: 'format' is not {META_FORMAT!r}")
        try:
            labels = tuple(str(label) for label in data["labels"])
            meta = cls(
                labels=labels,
                input_size_px=int(data["input_size_px"]),
                mean=_triple(data["mean"]),
                std=_triple(data["std"]),
                temperature=float(data["temperature"]),
                crop_margin=float(data.get("crop_margin", 0.0)),
                model_version=str(data.get("model_version", "unknown")),
                open_set=OpenSetRule.from_dict(data["open_set"]) if "open_set" in data else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{META_FILE}: missing or invalid field: {exc}") from exc
        if not labels or len(set(labels)) != len(labels):
            raise ModelError(f"{META_FILE}: 'labels' must be a non-empty list of distinct names")
        if meta.temperature <= 0 or meta.input_size_px <= 0 or min(meta.std) <= 0:
            raise ModelError(f"{META_FILE}: temperature, input_size_px and std must be > 0")
        return meta


def _triple(values: Any) -> tuple[float, float, float]:
    a, b, c = (float(v) for v in values)
    return (a, b, c)


def to_input_array(
    images: Sequence[Image.Image],
    size_px: int,
    mean: Sequence[float],
    std: Sequence[float],
) -> FloatArray:
    """Images -> the network's input ``[N, 3, size, size]``: RGB, stretched to a square with
    bilinear resampling (as the training images were), then ``(x - mean) / std``."""
    batch = np.empty((len(images), 3, size_px, size_px), dtype=np.float32)
    mean_arr = np.asarray(mean, dtype=np.float32).reshape(3, 1, 1)
    std_arr = np.asarray(std, dtype=np.float32).reshape(3, 1, 1)
    for i, image in enumerate(images):
        rgb = image.convert("RGB")
        if rgb.size != (size_px, size_px):
            rgb = rgb.resize((size_px, size_px), Image.Resampling.BILINEAR)
        pixels = np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1)
        batch[i] = (pixels - mean_arr) / std_arr
    return batch


def softmax(logits: npt.NDArray[np.floating[Any]], temperature: float = 1.0) -> FloatArray:
    """Row-wise softmax of ``logits / temperature``, computed stably."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    probabilities: FloatArray = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    return probabilities


def top_k_guesses(
    probabilities: FloatArray, labels: Sequence[str], top_k: int
) -> list[list[TypeGuess]]:
    """Each row's ``top_k`` most likely labels, best first."""
    k = max(1, min(top_k, probabilities.shape[1]))
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [
        [TypeGuess(labels[j], float(row[j])) for j in ranked]
        for row, ranked in zip(probabilities, order, strict=True)
    ]


@dataclass(frozen=True, slots=True)
class Assessment:
    """What the classifier makes of one crop: its most likely types, the most likely family
    and manufacturer (None without a taxonomy), whether the open-set rule calls it one of
    the known types at all, and the confidence from which the model's guesses are claims."""

    types: tuple[TypeGuess, ...]
    family: LevelGuess
    manufacturer: LevelGuess | None
    known: bool
    sure_confidence: float = SURE_CONFIDENCE

    @property
    def named(self) -> Named:
        return name_of(self)


def assess(
    logits: FloatArray, meta: ClassifierMeta, taxonomy: Taxonomy, top_k: int
) -> list[Assessment]:
    """Each row of ``logits`` as an :class:`Assessment` (pure: evaluation uses it too)."""
    probabilities = softmax(logits, meta.temperature)
    ranked = top_k_guesses(probabilities, meta.labels, top_k)
    rule = meta.open_set
    known = rule.known(logits, meta.temperature) if rule else np.ones(len(logits), dtype=bool)
    sure = rule.sure_confidence if rule else SURE_CONFIDENCE
    return [
        Assessment(
            types=tuple(guesses),
            family=taxonomy.best_family(row),
            manufacturer=taxonomy.best_manufacturer(row),
            known=bool(is_known),
            sure_confidence=sure,
        )
        for row, guesses, is_known in zip(probabilities, ranked, known, strict=True)
    ]


def read_meta(model_dir: Path) -> ClassifierMeta:
    """``model_dir/model.json``, checked; a missing or malformed file raises ``ModelError``."""
    path = model_dir / META_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"no {META_FILE} in classifier model directory {model_dir}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object")
    return ClassifierMeta.from_dict(data)


class Classifier:
    """Names the aircraft type in crops. Create it with :meth:`load`; calls are thread-safe
    (onnxruntime sessions are)."""

    def __init__(
        self,
        session: Any,
        meta: ClassifierMeta,
        model_dir: Path,
        taxonomy: Taxonomy | None = None,
    ) -> None:
        self._session = session
        self._meta = meta
        self.taxonomy = taxonomy or Taxonomy.flat(meta.labels)
        self._input_name: str = session.get_inputs()[0].name
        self.model_dir = model_dir

    @classmethod
    def load(cls, model_dir: Path | None = None, *, threads: int = 1) -> Classifier:
        """Load ``model_dir`` (default: the model shipped in the package) and create the
        onnxruntime session once. A missing or bad model raises ``ModelError``."""
        import onnxruntime as ort

        directory = Path(model_dir) if model_dir is not None else SHIPPED_MODEL_DIR
        if not directory.is_dir():
            raise ModelError(f"classifier model directory not found: {directory}")
        meta = read_meta(directory)
        taxonomy = Taxonomy.load(directory, meta.labels)
        model_path = directory / MODEL_FILE
        if not model_path.is_file():
            raise ModelError(f"no {MODEL_FILE} in classifier model directory {directory}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                str(model_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"cannot load {model_path}: {exc}") from exc
        _check_layout(session, meta, model_path)
        logger.info("loaded classifier %s (%d types)", directory, len(meta.labels))
        return cls(session, meta, directory, taxonomy)

    @property
    def labels(self) -> tuple[str, ...]:
        return self._meta.labels

    @property
    def meta(self) -> ClassifierMeta:
        return self._meta

    @property
    def temperature(self) -> float:
        return self._meta.temperature

    def logits(self, crops: Sequence[Image.Image]) -> FloatArray:
        """Raw network outputs ``[N, len(labels)]`` for the crops, in one session run."""
        if not crops:
            return np.zeros((0, len(self._meta.labels)), dtype=np.float32)
        batch = to_input_array(crops, self._meta.input_size_px, self._meta.mean, self._meta.std)
        (out,) = self._session.run(None, {self._input_name: batch})
        return np.asarray(out, dtype=np.float32)

    def probabilities(self, crops: Sequence[Image.Image]) -> FloatArray:
        """Calibrated probabilities ``[N, len(labels)]`` (softmax of logits / temperature)."""
        return softmax(self.logits(crops), self._meta.temperature)

    def classify(self, crops: Sequence[Image.Image], top_k: int = 3) -> list[list[TypeGuess]]:
        """The ``top_k`` most likely types of each crop, best first, calibrated."""
        if not crops:
            return []
        return top_k_guesses(self.probabilities(crops), self._meta.labels, top_k)

    def assess(self, crops: Sequence[Image.Image], top_k: int = 3) -> list[Assessment]:
        """Each crop's types, family, manufacturer and whether it is a known type at all."""
        if not crops:
            return []
        return assess(self.logits(crops), self._meta, self.taxonomy, top_k)


def _check_layout(session: Any, meta: ClassifierMeta, model_path: Path) -> None:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelError(f"{model_path}: expected one input and one output")
    in_shape, out_shape = inputs[0].shape, outputs[0].shape
    if len(in_shape) != 4 or in_shape[1] != 3:
        raise ModelError(f"{model_path}: input shape {in_shape} is not [N, 3, H, W]")
    if len(out_shape) != 2 or out_shape[1] != len(meta.labels):
        raise ModelError(
            f"{model_path}: output shape {out_shape} does not match {len(meta.labels)} labels"
        )
