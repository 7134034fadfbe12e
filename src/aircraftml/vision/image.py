"""Decode untrusted photo bytes into an upright RGB image, or refuse with a clear reason.

Photos are hostile input. Every way a photo can be bad ends in one ``PhotoError`` whose
message is a single readable line: empty, not an image, truncated, too many pixels
(decompression bombs), an unsupported format. Everything else is normalised: EXIF
orientation applied, the first frame of an animation, CMYK / 16-bit / grayscale / palette /
alpha converted to plain 8-bit RGB.

Large JPEGs are decoded at a reduced scale (1/2, 1/4 or 1/8, done inside the JPEG decoder,
so it is several times faster than decoding and then shrinking); ``Photo.scale`` maps the
decoded image back to the photo as the user sees it.

Memory: the pixel limits are checked on the header, before anything decodes (a PNG's
``getexif()`` decodes the whole image to look for EXIF after the pixels, so it comes after
them). Other formats than JPEG are reduced by an integer factor to the same working size
right after decoding, before any conversion copies them: a 39 MP RGBA PNG needs its decoded
156 MB and little more (it peaked at +744 MB when converted at full size).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from aircraftml.errors import PhotoError, PhotoTooLarge

# Formats a phone, a browser or a camera produces; anything else is refused before decoding.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
MAX_FILE_BYTES = 50 * 1024 * 1024
# What the header may declare, and what we are willing to hold decoded in memory.
MAX_DECLARED_PIXELS = 150_000_000  # below Pillow's own 179 MP bomb guard
MAX_DECODED_PIXELS = 40_000_000
# A progressive JPEG keeps every DCT coefficient of the whole image while it decodes, however
# small the scale asked for: ~3 bytes a pixel (+295 MB for a 587 KB, 100 MP photo). Phones
# take up to 50 MP; X serves photos of at most 4096 px a side (16 MP).
MAX_PROGRESSIVE_JPEG_PIXELS = 50_000_000
# Decode large JPEGs down to no less than this long side. The detector looks at 300 px and
# the classifier at 224 px crops, so 768 keeps a crop of an aircraft a fifth of the photo wide
# at its full 224 px, and lets 1,536-3,071 px photos decode at half size, ~4x fewer pixels.
DEFAULT_MAX_SIDE_PX = 768

_ROTATING_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_EXIF_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True, slots=True)
class Photo:
    """A decoded photo: ``image`` is upright RGB, maybe reduced; ``width``/``height`` are the
    size of the photo as the user sees it (EXIF orientation applied, full resolution)."""

    image: Image.Image
    width: int
    height: int

    @property
    def scale(self) -> float:
        """Pixels of ``image`` per pixel of the full-size photo (1.0 when not reduced)."""
        return self.image.width / self.width


def read_photo_bytes(path: Path) -> bytes:
    """Read a photo file within the size limit; every failure is a ``PhotoError``."""
    try:
        size_bytes = path.stat().st_size
        if size_bytes > MAX_FILE_BYTES:
            raise PhotoTooLarge(f"file is {size_bytes:,} bytes, over the {MAX_FILE_BYTES:,} limit")
        return path.read_bytes()
    except FileNotFoundError:
        raise PhotoError("no such file") from None
    except IsADirectoryError:
        raise PhotoError("is a directory, not a photo") from None
    except PermissionError:
        raise PhotoError("permission denied") from None


def decode_photo(data: bytes, *, max_side_px: int = DEFAULT_MAX_SIDE_PX) -> Photo:
    """Decode photo bytes into an upright 8-bit RGB image, reduced for large JPEGs."""
    if not data:
        raise PhotoError("empty file (0 bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise PhotoTooLarge(f"photo is {len(data):,} bytes, over the {MAX_FILE_BYTES:,} limit")
    with warnings.catch_warnings():
        # We check sizes ourselves, below, against both declared and decoded pixels.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
        except UnidentifiedImageError:
            raise PhotoError("not an image in a format we read (JPEG, PNG, WEBP, GIF)") from None
        except Image.DecompressionBombError:
            raise PhotoTooLarge(
                f"too many pixels to decode safely (over {MAX_DECLARED_PIXELS // 1_000_000} "
                "megapixels: a decompression bomb?)"
            ) from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise PhotoError(f"unreadable image header ({exc})") from None
        return _decode_opened(image, max_side_px)


def _decode_opened(image: Image.Image, max_side_px: int) -> Photo:
    declared_w, declared_h = image.size
    if declared_w <= 0 or declared_h <= 0:
        raise PhotoError(f"image declares an empty size {declared_w}x{declared_h}")
    if declared_w * declared_h > MAX_DECLARED_PIXELS:
        raise PhotoTooLarge(
            f"image is {declared_w}x{declared_h} pixels: too many pixels to decode safely "
            f"(limit {MAX_DECLARED_PIXELS // 1_000_000} megapixels)"
        )
    if image.format in ("JPEG", "MPO"):
        _check_progressive_jpeg(image)
        _reduce_jpeg_decode(image, max_side_px)
    decoded_w, decoded_h = image.size
    if decoded_w * decoded_h > MAX_DECODED_PIXELS:
        raise PhotoTooLarge(
            f"image is {declared_w}x{declared_h} pixels, over the "
            f"{MAX_DECODED_PIXELS // 1_000_000} megapixel limit for {image.format}"
        )
    orientation = _exif_orientation(image)  # only now: for a PNG it decodes the pixels
    try:
        image.seek(0)  # first frame of an animation
        image.load()
        rgb = to_rgb(_reduced(image, max_side_px))
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise PhotoError(f"truncated or corrupt image ({_first_line(exc)})") from None
    except Image.DecompressionBombError:
        raise PhotoTooLarge("too many pixels (a decompression bomb?)") from None
    upright = _apply_orientation(rgb, orientation)
    full_w, full_h = (
        (declared_h, declared_w)
        if orientation in _ROTATING_ORIENTATIONS
        else (declared_w, declared_h)
    )
    return Photo(image=upright, width=full_w, height=full_h)


def _check_progressive_jpeg(image: Image.Image) -> None:
    width, height = image.size
    if image.info.get("progressive") and width * height > MAX_PROGRESSIVE_JPEG_PIXELS:
        raise PhotoTooLarge(
            f"progressive JPEG of {width}x{height} pixels, over the "
            f"{MAX_PROGRESSIVE_JPEG_PIXELS // 1_000_000} megapixel limit for progressive JPEGs "
            "(decoding one holds its whole size in memory)"
        )


def _reduce_jpeg_decode(image: Image.Image, max_side_px: int) -> None:
    """Ask the JPEG decoder for the smallest 1/2^k scale still >= ``max_side_px`` long."""
    width, height = image.size
    factor = max_side_px / max(width, height)
    if factor >= 1:
        return
    requested = (max(1, round(width * factor)), max(1, round(height * factor)))
    image.draft("RGB", requested)


# Modes Image.reduce() takes as they are; the others are widened first.
_REDUCIBLE_MODES = frozenset({"L", "LA", "La", "RGB", "RGBA", "RGBa", "CMYK", "YCbCr", "I", "F"})


def _reduced(image: Image.Image, max_side_px: int) -> Image.Image:
    """``image`` shrunk by the largest integer factor that keeps its long side at least
    ``max_side_px`` (a decoded JPEG is already near it), before any conversion copies it."""
    factor = max(image.size) // max_side_px
    if factor < 2:
        return image
    if image.mode not in _REDUCIBLE_MODES:
        image = _widened(image)
    return _reduce_in_bands(image, factor)


def _reduce_in_bands(image: Image.Image, factor: int, band_blocks: int = 64) -> Image.Image:
    """``image.reduce(factor)``, a band of rows at a time: Pillow reduces RGBA through a
    premultiplied copy of the whole image, which would double the memory of a large photo."""
    width, height = image.size
    out = Image.new(image.mode, (-(-width // factor), -(-height // factor)))
    band_rows = factor * band_blocks  # a multiple of the factor: the blocks line up
    for top in range(0, height, band_rows):
        band = image.crop((0, top, width, min(top + band_rows, height)))
        out.paste(band.reduce(factor), (0, top // factor))
    return out


def _widened(image: Image.Image) -> Image.Image:
    if image.mode in ("P", "PA"):
        return image.convert(
            "RGBA" if "transparency" in image.info or image.mode == "PA" else "RGB"
        )
    if image.mode.startswith("I;16"):
        return image.convert("I")
    return image.convert("L")  # "1"


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB: 16-bit and float scaled down, alpha on white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _high_depth_to_rgb(image)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    values = np.asarray(image, dtype=np.float32)
    peak = float(values.max()) if values.size else 0.0
    # 16-bit data spans 0..65535; data already within 0..255 is kept as it is.
    scale = 255.0 / 65535.0 if peak > 255.0 else 1.0
    eight_bit = np.clip(values * scale + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(eight_bit, mode="L").convert("RGB")


def _exif_orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block must not sink an otherwise good photo
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _apply_orientation(image: Image.Image, orientation: int) -> Image.Image:
    if orientation == 1:
        return image
    transpose = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }[orientation]
    return image.transpose(transpose)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
