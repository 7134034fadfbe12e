"""The folder of labelled photos that training and evaluation read.

``DATA_DIR/<split>/<label>/<image>``: one folder per split (``train``, ``val``, ``test``) and,
in it, one folder per label holding any image format Pillow opens. An optional
``DATA_DIR/index.csv`` with ``label`` and ``role`` columns groups the labels (civil,
military...), as in ``../shared/data/aircraft-types-v2``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from PIL import Image

from aircraftml.errors import AircraftMLError


class DatasetError(AircraftMLError):
    """The data folder is not laid out as training or evaluation needs."""


def image_suffixes() -> frozenset[str]:
    """File suffixes Pillow can open here (lower case, with the dot)."""
    return frozenset(ext.lower() for ext in Image.registered_extensions())


def label_folders(data_dir: Path, split: str) -> list[Path]:
    """The label folders of ``data_dir/split``, sorted by name."""
    split_dir = data_dir / split
    if not split_dir.is_dir():
        raise DatasetError(f"{data_dir} has no {split}/ folder (expected {split}/<label>/*.jpg)")
    return sorted(p for p in split_dir.iterdir() if p.is_dir())


def list_images(data_dir: Path, split: str) -> list[tuple[Path, str]]:
    """(path, label) for every image file in ``data_dir/split/<label>/``, sorted by label and
    name; hidden files and files Pillow has no format for are left out."""
    suffixes = image_suffixes()
    return [
        (path, label_dir.name)
        for label_dir in label_folders(data_dir, split)
        for path in sorted(label_dir.iterdir())
        if path.is_file() and path.suffix.lower() in suffixes and not path.name.startswith(".")
    ]


def read_roles(data_dir: Path) -> dict[str, str]:
    """label -> role from ``data_dir/index.csv`` (empty if absent or without the columns)."""
    path = data_dir / "index.csv"
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"label", "role"} <= set(reader.fieldnames):
            return {}
        return {row["label"]: row["role"] for row in reader if row.get("label")}
