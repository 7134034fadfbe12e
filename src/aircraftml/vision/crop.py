"""Cut one detector box out of a photo so it looks like the classifier's training images.

The training images are whole aircraft with some background around them, stretched to a
square. So a box gets a margin on every side (a fraction of its own width and height),
is clipped to the photo, and is stretched (not padded) to ``size x size``.
"""

from __future__ import annotations

from PIL import Image

from aircraftml.vision.types import Box

# Fraction of the box's width (height) added on the left and right (top and bottom).
# Chosen by measurement: see the classifier's MODEL_CARD.md and scripts/build_classifier.sh.
DEFAULT_CROP_MARGIN = 0.20


def crop_rectangle(
    box: Box, image_width_px: int, image_height_px: int, margin: float = DEFAULT_CROP_MARGIN
) -> tuple[int, int, int, int]:
    """The integer rectangle ``(left, top, right, bottom)`` to cut: the box grown by
    ``margin`` of its size on each side, clipped to the image, at least one pixel."""
    grow_x = box.width * margin
    grow_y = box.height * margin
    left = _clamp(round(box.x0 - grow_x), 0, image_width_px - 1)
    top = _clamp(round(box.y0 - grow_y), 0, image_height_px - 1)
    right = _clamp(round(box.x1 + grow_x), left + 1, image_width_px)
    bottom = _clamp(round(box.y1 + grow_y), top + 1, image_height_px)
    return (left, top, right, bottom)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def crop_for_classifier(
    image: Image.Image, box: Box, size: int = 224, *, margin: float = DEFAULT_CROP_MARGIN
) -> Image.Image:
    """The box (plus margin) cut from ``image`` and stretched to an RGB ``size x size``."""
    rectangle = crop_rectangle(box, image.width, image.height, margin)
    crop = image.crop(rectangle)
    if crop.mode != "RGB":
        crop = crop.convert("RGB")
    return crop.resize((size, size), Image.Resampling.BILINEAR)
