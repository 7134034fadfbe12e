"""Cut a labelled-photo folder down to the aircraft, as the bot sees them.

The bot never classifies a whole photo: it classifies the detector's box plus a margin
(``crop.py``). A spotter's full frame, a web photo with sky around a fighter and a v1 square
all look alike once cut that way, so training and evaluation on such crops see what the
bot sees. ``crop_dataset`` writes ``OUT/<split>/<label>/<name>.jpg``, one crop per photo
(the largest box the detector finds; the whole photo when it finds none), and copies
``index.csv`` so the roles still apply.

Training crops keep a wider margin than the bot's, so the random crops of training
(``train.random_view``) jitter the framing around the bot's; evaluation crops use the bot's
margin exactly.
"""

from __future__ import annotations

import csv
import logging
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from aircraftml.errors import AircraftMLError
from aircraftml.vision.crop import DEFAULT_CROP_MARGIN, crop_rectangle
from aircraftml.vision.dataset import list_images
from aircraftml.vision.detector import Detector, box_area
from aircraftml.vision.image import Photo, decode_photo, read_photo_bytes
from aircraftml.vision.types import Box

logger = logging.getLogger(__name__)

TRAIN_CROP_MARGIN = 0.30  # room for the random crops of training around the bot's 0.20
SPLITS = ("train", "val", "test")
JPEG_QUALITY = 92


@dataclass(frozen=True, slots=True)
class CropCounts:
    """Per split: photos cut to a box, photos kept whole (no box), photos unreadable."""

    cropped: Counter[str]
    whole: Counter[str]
    unreadable: Counter[str]


def main_box(boxes: Iterable[Box]) -> Box | None:
    """The aircraft a labelled photo is about: the largest box (None when there is none)."""
    return max(boxes, key=box_area, default=None)


def cut_to_aircraft(photo: Photo, detector: Detector, margin: float) -> Image.Image | None:
    """The main box of ``photo`` plus ``margin``, in decoded-image pixels as the bot cuts
    it; None when the detector finds no aircraft."""
    box = main_box(detector.detect(photo.image))
    if box is None:
        return None
    return photo.image.crop(crop_rectangle(box, photo.image.width, photo.image.height, margin))


def crop_dataset(
    data_dir: Path,
    out_dir: Path,
    detector: Detector,
    *,
    splits: Iterable[str] = SPLITS,
    train_margin: float = TRAIN_CROP_MARGIN,
    eval_margin: float = DEFAULT_CROP_MARGIN,
    progress: bool = True,
) -> CropCounts:
    """Write the crops of every split present in ``data_dir`` to ``out_dir`` (a crop already
    written is kept, so a stopped run goes on where it stopped)."""
    from tqdm import tqdm

    if out_dir.resolve() == data_dir.resolve():
        raise AircraftMLError(f"the crops must go to another folder than {data_dir}")
    counts = CropCounts(Counter(), Counter(), Counter())
    for split in splits:
        if not (data_dir / split).is_dir():
            continue
        margin = train_margin if split == "train" else eval_margin
        for path, label in tqdm(
            list_images(data_dir, split), desc=f"crop {split}", disable=not progress, unit="img"
        ):
            target = out_dir / split / label / f"{path.stem}.jpg"
            if target.is_file():
                counts.cropped[split] += 1
                continue
            try:
                photo = decode_photo(read_photo_bytes(path))
            except AircraftMLError as exc:
                logger.warning("skipping %s: %s", path, exc)
                counts.unreadable[split] += 1
                continue
            crop = cut_to_aircraft(photo, detector, margin)
            (counts.cropped if crop is not None else counts.whole)[split] += 1
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            (crop or photo.image).save(partial, format="JPEG", quality=JPEG_QUALITY)
            partial.replace(target)
    _copy_index(data_dir, out_dir)
    return counts


def _copy_index(data_dir: Path, out_dir: Path) -> None:
    """``index.csv`` (roles) and the data's README (its terms) go along with the crops."""
    for name in ("README.md",):
        if (data_dir / name).is_file():
            shutil.copyfile(data_dir / name, out_dir / name)
    index = data_dir / "index.csv"
    if not index.is_file():
        return
    with index.open(newline="", encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    if not rows:
        return
    with (out_dir / "index.csv").open("w", newline="", encoding="utf-8") as target:
        writer = csv.DictWriter(target, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            if "path" in row:
                row["path"] = str(Path(row["path"]).with_suffix(".jpg"))
            writer.writerow(row)
