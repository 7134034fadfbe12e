"""Find the aircraft in a photo: boxes in pixels of the image, aircraft only, left to right.

Two ONNX layouts are understood, picked by looking at the model's inputs and outputs:

- COCO-SSD (the shipped default, ``models/coco-ssd.onnx``, Apache-2.0, rebuilt by
  ``scripts/convert_coco_ssd.py``): input ``image`` uint8 ``Nx300x300x3`` RGB (the whole image
  squashed to a square, as the model was trained); outputs ``boxes`` ``Nx1917x4``
  (normalised ``ymin, xmin, ymax, xmax``) and ``scores`` ``Nx1917x1``, the airplane score of
  each anchor (the converter cut the other COCO classes out of the graph).
- YOLOv8 as Ultralytics exports it: input float ``1x3x640x640`` in 0..1, letterboxed;
  output ``1x84x8400`` = ``cx, cy, w, h`` in input pixels + 80 class scores.

Only the COCO class ``airplane`` counts. Overlapping boxes of one aircraft are merged: plain
non-maximum suppression, then a box mostly inside another is folded into the larger one.

Small aircraft far away are a few pixels wide at 300x300. With ``tiles=True`` COCO-SSD looks
a second time, through 300-pixel square tiles (the image's own resolution), but only where
the first look saw *hints* (weak or small airplane candidates outside the aircraft already
found): a photo of one large aircraft still costs one run, a photo of a formation pays for a
band of tiles (several hundred ms on one thread). Boxes cut by a tile's inner edge are
dropped (the same aircraft is whole elsewhere). Tiling is off by default: at that scale the
model also calls bird-like silhouettes airplanes with scores as high as real distant aircraft,
and a bot that names a bird "Boeing 737" is worse than one that misses a far-off formation.

The ONNX session is created once per detector; everything around it is a pure function.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from PIL import Image

from aircraftml.errors import ModelError
from aircraftml.vision.types import Box

logger = logging.getLogger(__name__)

DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "coco-ssd.onnx"

COCO_SSD_INPUT_PX = 300
COCO_SSD_ANCHORS = 1917
COCO_SSD_SCORE_COLUMNS = 1  # the airplane score only
COCO_SSD_MIN_SCORE = 0.65  # tuned: real aircraft 0.70-0.99, synthetic bird shapes up to 0.59

YOLO_INPUT_PX = 640
YOLO_CLASSES = 80
YOLO_AIRPLANE_CLASS = 4
YOLO_MIN_SCORE = 0.35
YOLO_PAD_VALUE = 114 / 255

NMS_IOU = 0.45
CONTAINED_FRACTION = 0.7  # a box this much inside a larger one is part of the same aircraft

# Tiling (COCO-SSD only). A hint is a candidate at least HINT_SCORE, narrower than
# HINT_MAX_WIDTH of the image, not inside an aircraft already found.
HINT_SCORE = 0.25
HINT_MAX_WIDTH = 0.25
TILE_PX = 300  # tiles are squares of about this many image pixels: the model's own scale
TILE_OVERLAP = 0.25
MAX_TILES = 24
CUT_EDGE_PX = 4.0

FloatArray = npt.NDArray[np.float32]
ByteArray = npt.NDArray[np.uint8]


class Detector(Protocol):
    """Finds aircraft: RGB image in, boxes in its pixels out, sorted left to right by x0."""

    def detect(self, image: Image.Image) -> list[Box]: ...


@dataclass(frozen=True, slots=True)
class Region:
    """A rectangle of the image in whole pixels: ``[x0, x1) x [y0, y1)``."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How an image was fitted into a square input: ``input = image * scale + pad``."""

    scale: float
    pad_x_px: float
    pad_y_px: float
    resized_width_px: int
    resized_height_px: int


# --- geometry ---------------------------------------------------------------------------------


def box_area(box: Box) -> float:
    return max(0.0, box.width) * max(0.0, box.height)


def intersection_area(a: Box, b: Box) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(0.0, width) * max(0.0, height)


def iou(a: Box, b: Box) -> float:
    inter = intersection_area(a, b)
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


def contained_fraction(inner: Box, outer: Box) -> float:
    """How much of ``inner``'s area lies inside ``outer`` (0..1)."""
    area = box_area(inner)
    return intersection_area(inner, outer) / area if area > 0 else 1.0


def non_max_suppression(boxes: Sequence[Box], iou_threshold: float = NMS_IOU) -> list[Box]:
    """Keep the best-scoring box of each group overlapping by more than ``iou_threshold``."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: -b.score):
        if all(iou(box, other) <= iou_threshold for other in kept):
            kept.append(box)
    return kept


def merge_contained(boxes: Sequence[Box], fraction: float = CONTAINED_FRACTION) -> list[Box]:
    """Fold each box that lies mostly inside a larger one into it (the larger keeps its shape
    and takes the better score): a tail or a wing found apart from its aircraft."""
    merged: list[Box] = []
    for box in sorted(boxes, key=lambda b: -box_area(b)):
        for i, outer in enumerate(merged):
            if contained_fraction(box, outer) >= fraction:
                if box.score > outer.score:
                    merged[i] = Box(outer.x0, outer.y0, outer.x1, outer.y1, box.score)
                break
        else:
            merged.append(box)
    return merged


def merge_overlapping(
    boxes: Sequence[Box],
    *,
    iou_threshold: float = NMS_IOU,
    fraction: float = CONTAINED_FRACTION,
) -> list[Box]:
    """NMS, then containment merging, sorted left to right by ``x0``."""
    kept = merge_contained(non_max_suppression(boxes, iou_threshold), fraction)
    return sorted(kept, key=lambda b: (b.x0, b.y0))


def clip_box(box: Box, width_px: float, height_px: float) -> Box:
    return Box(
        min(max(box.x0, 0.0), width_px),
        min(max(box.y0, 0.0), height_px),
        min(max(box.x1, 0.0), width_px),
        min(max(box.y1, 0.0), height_px),
        box.score,
    )


# --- COCO-SSD ---------------------------------------------------------------------------------


def ssd_input(image: Image.Image, region: Region, size_px: int = COCO_SSD_INPUT_PX) -> ByteArray:
    """The region of an RGB image squashed to ``size_px`` square, uint8 HxWx3."""
    # One resize straight from the region (no cropped copy). reducing_gap=1: shrink by a whole
    # factor first (a box filter, cheap), then bilinear: antialiased, and about half the time
    # of a plain bilinear resize from a large photo.
    resized = image.resize(
        (size_px, size_px),
        Image.Resampling.BILINEAR,
        box=(region.x0, region.y0, region.x1, region.y1),
        reducing_gap=1.0,
    )
    return np.asarray(resized, dtype=np.uint8)


def boxes_from_ssd(
    boxes_yxyx: FloatArray,
    scores: FloatArray,
    region: Region,
    min_score: float,
) -> list[Box]:
    """One image's COCO-SSD outputs (``Ax4`` normalised ``ymin, xmin, ymax, xmax`` and ``Ax1``
    airplane scores) -> airplane boxes in pixels of the whole image the ``region`` was cut
    from."""
    airplane = scores[:, 0]
    keep = np.flatnonzero(airplane >= min_score)
    found = []
    for i in keep:
        ymin, xmin, ymax, xmax = (float(v) for v in boxes_yxyx[i])
        box = Box(
            region.x0 + xmin * region.width,
            region.y0 + ymin * region.height,
            region.x0 + xmax * region.width,
            region.y0 + ymax * region.height,
            float(airplane[i]),
        )
        found.append(clip_box(box, region.x1, region.y1))
    return found


def is_cut_by_tile(box: Box, tile: Region, width_px: int, height_px: int) -> bool:
    """True when the box touches an edge of the tile that is not an edge of the image: the
    aircraft probably goes on beyond the tile, and another tile or the full view has it whole."""
    margin = CUT_EDGE_PX
    return (
        (tile.x0 > 0 and box.x0 <= tile.x0 + margin)
        or (tile.y0 > 0 and box.y0 <= tile.y0 + margin)
        or (tile.x1 < width_px and box.x1 >= tile.x1 - margin)
        or (tile.y1 < height_px and box.y1 >= tile.y1 - margin)
    )


def tile_starts(length_px: int, tile_px: int, overlap: float) -> list[int]:
    """Evenly spread starts of tiles of ``tile_px`` covering ``[0, length_px)`` with at least
    ``overlap`` (a fraction of the tile) between neighbours."""
    if length_px <= tile_px:
        return [0]
    step_px = tile_px * (1.0 - overlap)
    count = math.ceil((length_px - tile_px) / step_px) + 1
    return [round(i * (length_px - tile_px) / (count - 1)) for i in range(count)]


def find_hints(
    candidates: Sequence[Box],
    found: Sequence[Box],
    width_px: int,
    *,
    hint_score: float = HINT_SCORE,
    max_width: float = HINT_MAX_WIDTH,
) -> list[Box]:
    """Candidates that suggest small aircraft the full view could not resolve: weak or small
    boxes, narrower than ``max_width`` of the image, not part of an aircraft already found."""
    hints = []
    for box in candidates:
        if box.score < hint_score or box.width > max_width * width_px:
            continue
        inside = any(
            contained_fraction(box, big) >= CONTAINED_FRACTION
            for big in found
            if box_area(big) > box_area(box)
        )
        if not inside:
            hints.append(box)
    return hints


def hint_tiles(
    hints: Sequence[Box],
    width_px: int,
    height_px: int,
    *,
    tile_px: int = TILE_PX,
    overlap: float = TILE_OVERLAP,
    max_tiles: int = MAX_TILES,
) -> list[Region]:
    """Square tiles across the whole width, over the band of rows holding the hints (small
    aircraft come in formations and strings: look beside the one we glimpsed). The tile grows
    when the band would need more than ``max_tiles``; none when the image is not larger than
    the tile (the full view already sees it at full resolution)."""
    short_px = min(width_px, height_px)
    if not hints or short_px <= tile_px:
        return []
    top = max(0, round(min(h.y0 for h in hints) - tile_px * overlap))
    bottom = min(height_px, round(max(h.y1 for h in hints) + tile_px * overlap))
    size_px = tile_px
    while True:
        band_px = min(height_px, max(bottom - top, size_px))
        band_top = min(max(0, (top + bottom - band_px) // 2), height_px - band_px)
        xs = tile_starts(width_px, size_px, overlap)
        ys = [band_top + y for y in tile_starts(band_px, size_px, overlap)]
        if len(xs) * len(ys) <= max_tiles or size_px >= short_px:
            break
        size_px = min(round(size_px * 1.25), short_px)
    return [Region(x, y, x + size_px, y + size_px) for y in ys for x in xs][:max_tiles]


class CocoSsdDetector:
    """The shipped COCO-SSD detector; one onnxruntime session, made here once."""

    def __init__(
        self,
        model_path: Path = DEFAULT_MODEL_PATH,
        *,
        min_score: float = COCO_SSD_MIN_SCORE,
        threads: int = 1,
        tiles: bool = False,
        session: ort.InferenceSession | None = None,
    ) -> None:
        self.min_score = min_score
        self.tiles = tiles
        self._session = session or open_session(model_path, threads)
        check_coco_ssd_layout(self._session, model_path)

    def detect(self, image: Image.Image) -> list[Box]:
        width_px, height_px = image.size
        whole = Region(0, 0, width_px, height_px)
        first_look_score = min(self.min_score, HINT_SCORE) if self.tiles else self.min_score
        (candidates,) = self._run([whole], image, first_look_score)
        found = merge_overlapping([b for b in candidates if b.score >= self.min_score])
        if not self.tiles:
            return found
        hints = find_hints(merge_overlapping(candidates), found, width_px)
        tiles = hint_tiles(hints, width_px, height_px)
        if not tiles:
            return found
        logger.debug("%d hints of small aircraft: %d tiles", len(hints), len(tiles))
        from_tiles = [
            box
            for tile, boxes in zip(tiles, self._run(tiles, image, self.min_score), strict=True)
            for box in boxes
            if not is_cut_by_tile(box, tile, width_px, height_px)
        ]
        return merge_overlapping([*found, *from_tiles])

    def _run(
        self, regions: Sequence[Region], image: Image.Image, min_score: float
    ) -> list[list[Box]]:
        batch = np.stack([ssd_input(image, region) for region in regions])
        boxes, scores = self._session.run(["boxes", "scores"], {"image": batch})
        return [
            boxes_from_ssd(boxes[i], scores[i], region, min_score)
            for i, region in enumerate(regions)
        ]


# --- YOLOv8 -----------------------------------------------------------------------------------


def letterbox_geometry(width_px: int, height_px: int, size_px: int = YOLO_INPUT_PX) -> Letterbox:
    """Fit ``width x height`` into a ``size_px`` square keeping the aspect, centred."""
    scale = min(size_px / width_px, size_px / height_px)
    resized_w = max(1, round(width_px * scale))
    resized_h = max(1, round(height_px * scale))
    return Letterbox(
        scale=scale,
        pad_x_px=(size_px - resized_w) / 2,
        pad_y_px=(size_px - resized_h) / 2,
        resized_width_px=resized_w,
        resized_height_px=resized_h,
    )


def yolo_input(image: Image.Image, size_px: int = YOLO_INPUT_PX) -> tuple[FloatArray, Letterbox]:
    """RGB image -> float ``1x3xSxS`` in 0..1, letterboxed with grey (114) as Ultralytics does."""
    geometry = letterbox_geometry(image.width, image.height, size_px)
    resized = image.resize(
        (geometry.resized_width_px, geometry.resized_height_px),
        Image.Resampling.BILINEAR,
        reducing_gap=2.0,
    )
    canvas = np.full((size_px, size_px, 3), YOLO_PAD_VALUE, dtype=np.float32)
    left, top = int(geometry.pad_x_px), int(geometry.pad_y_px)
    pixels = np.asarray(resized, dtype=np.float32) / 255.0
    canvas[top : top + geometry.resized_height_px, left : left + geometry.resized_width_px] = pixels
    return canvas.transpose(2, 0, 1)[None], geometry


def boxes_from_yolo(
    output: FloatArray,
    geometry: Letterbox,
    width_px: int,
    height_px: int,
    min_score: float,
    airplane_class: int = YOLO_AIRPLANE_CLASS,
) -> list[Box]:
    """A YOLOv8 ``84x8400`` output -> airplane boxes in pixels of the original image."""
    airplane = output[4 + airplane_class]
    keep = np.flatnonzero(airplane >= min_score)
    found = []
    for i in keep:
        cx, cy, w, h = (float(v) for v in output[:4, i])
        # Undo the letterbox: x and y each by their own pad; both by the one scale.
        x0 = (cx - w / 2 - geometry.pad_x_px) / geometry.scale
        y0 = (cy - h / 2 - geometry.pad_y_px) / geometry.scale
        x1 = (cx + w / 2 - geometry.pad_x_px) / geometry.scale
        y1 = (cy + h / 2 - geometry.pad_y_px) / geometry.scale
        found.append(clip_box(Box(x0, y0, x1, y1, float(airplane[i])), width_px, height_px))
    return found


class YoloV8Detector:
    """A YOLOv8 model in the layout Ultralytics exports; one onnxruntime session."""

    def __init__(
        self,
        model_path: Path,
        *,
        min_score: float = YOLO_MIN_SCORE,
        threads: int = 1,
        session: ort.InferenceSession | None = None,
    ) -> None:
        self.min_score = min_score
        self._session = session or open_session(model_path, threads)
        check_yolo_layout(self._session, model_path)
        self._input_name = self._session.get_inputs()[0].name

    def detect(self, image: Image.Image) -> list[Box]:
        batch, geometry = yolo_input(image)
        (output,) = self._session.run(None, {self._input_name: batch})[:1]
        boxes = boxes_from_yolo(output[0], geometry, image.width, image.height, self.min_score)
        return merge_overlapping(boxes)


# --- loading ----------------------------------------------------------------------------------


def open_session(model_path: Path, threads: int) -> ort.InferenceSession:
    """One CPU session; any failure to read or parse the file is a ``ModelError``."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    if not model_path.is_file():
        raise ModelError(f"detector model {model_path}: no such file")
    try:
        return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"detector model {model_path}: cannot load ({first_line})") from exc


def _shapes(session: ort.InferenceSession) -> tuple[list[object], list[list[object]]]:
    inputs = session.get_inputs()
    outputs = session.get_outputs()
    first = list(inputs[0].shape) if len(inputs) == 1 else []
    return first, [list(o.shape) for o in outputs]


def is_coco_ssd_layout(session: ort.InferenceSession) -> bool:
    first, outputs = _shapes(session)
    names = [o.name for o in session.get_outputs()]
    return (
        len(first) == 4
        and first[1:] == [COCO_SSD_INPUT_PX, COCO_SSD_INPUT_PX, 3]
        and names == ["boxes", "scores"]
        and outputs[0][1:] == [COCO_SSD_ANCHORS, 4]
        and outputs[1][1:] == [COCO_SSD_ANCHORS, COCO_SSD_SCORE_COLUMNS]
    )


def is_yolo_layout(session: ort.InferenceSession) -> bool:
    first, outputs = _shapes(session)
    return (
        len(first) == 4
        and first[1:] == [3, YOLO_INPUT_PX, YOLO_INPUT_PX]
        and len(outputs) >= 1
        and len(outputs[0]) == 3
        and outputs[0][1] == 4 + YOLO_CLASSES
        and session.get_inputs()[0].type == "tensor(float)"
    )


def describe_layout(session: ort.InferenceSession) -> str:
    inputs = ", ".join(f"{i.name} {i.type} {i.shape}" for i in session.get_inputs())
    outputs = ", ".join(f"{o.name} {o.type} {o.shape}" for o in session.get_outputs())
    return f"inputs [{inputs}], outputs [{outputs}]"


def check_coco_ssd_layout(session: ort.InferenceSession, model_path: Path) -> None:
    if not is_coco_ssd_layout(session):
        raise ModelError(f"{model_path} is not a COCO-SSD detector: {describe_layout(session)}")


def check_yolo_layout(session: ort.InferenceSession, model_path: Path) -> None:
    if not is_yolo_layout(session):
        raise ModelError(f"{model_path} is not a YOLOv8 detector: {describe_layout(session)}")


def load_detector(
    path: Path | None = None,
    *,
    min_score: float | None = None,
    threads: int = 1,
    tiles: bool = False,
) -> Detector:
    """The shipped COCO-SSD detector, or the ONNX file at ``path``, whichever layout it has
    (COCO-SSD as converted here, or YOLOv8 as Ultralytics exports it). ``min_score`` defaults
    to the value tuned for the layout; ``tiles`` (COCO-SSD only) adds the tiled second look
    for small distant aircraft. Raises ``ModelError`` for anything else."""
    model_path = path or DEFAULT_MODEL_PATH
    session = open_session(model_path, threads)
    if is_coco_ssd_layout(session):
        score = COCO_SSD_MIN_SCORE if min_score is None else min_score
        logger.info("detector %s: COCO-SSD layout, min_score %.2f", model_path.name, score)
        return CocoSsdDetector(
            model_path, min_score=score, threads=threads, tiles=tiles, session=session
        )
    if is_yolo_layout(session):
        score = YOLO_MIN_SCORE if min_score is None else min_score
        logger.info("detector %s: YOLOv8 layout, min_score %.2f", model_path.name, score)
        return YoloV8Detector(model_path, min_score=score, threads=threads, session=session)
    raise ModelError(
        f"{model_path}: not a detector layout we know (COCO-SSD uint8 Nx300x300x3 -> boxes, "
        f"scores; or YOLOv8 float 1x3x640x640 -> 1x84x8400): {describe_layout(session)}"
    )
