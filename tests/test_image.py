"""Photos are hostile input: each kind of bad photo gets a clear one-line PhotoError, and each
odd-but-valid photo decodes to upright 8-bit RGB of the right size."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from aircraftml.errors import PhotoError, PhotoTooLarge
from aircraftml.vision.image import DEFAULT_MAX_SIDE_PX, decode_photo


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def _bomb_png(side: int) -> bytes:
    """A real, valid 1-bit PNG of side x side pixels that compresses to a few hundred KB."""
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def _jpeg_with_orientation(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(image, "JPEG", exif=exif.tobytes(), quality=95)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"GIF89a is not enough", "not an image"),
        (b"<html><body>Not found</body></html>", "not an image"),
        (b"\x00" * 1000, "not an image"),
    ],
)
def test_unreadable_bytes_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    # Given bytes that are not a photo / When decoded / Then a one-line reason is given
    with pytest.raises(PhotoError, match=reason) as raised:
        decode_photo(data)
    assert "\n" not in str(raised.value)


def test_truncated_jpeg_is_refused() -> None:
    # Given a JPEG cut in half
    whole = _encode(Image.new("RGB", (400, 300), (10, 120, 200)), "JPEG")
    # When decoded / Then it is refused as truncated, not half-read
    with pytest.raises(PhotoError, match="truncated or corrupt"):
        decode_photo(whole[: len(whole) // 2])


def test_decompression_bomb_png_is_refused_before_decoding() -> None:
    # Given a valid 20,000 x 20,000 PNG (400 megapixels) of a few hundred KB
    bomb = _bomb_png(20_000)
    assert len(bomb) < 2_000_000
    # When decoded / Then it is refused on its declared size
    with pytest.raises(PhotoError, match="too many pixels"):
        decode_photo(bomb)


def test_large_png_under_the_declared_limit_but_over_the_decoded_limit_is_refused() -> None:
    # Given a 7,000 x 7,000 PNG: PNG cannot be decoded at reduced size, so it would cost 147 MB
    with pytest.raises(PhotoError, match="megapixel limit for PNG"):
        decode_photo(_bomb_png(7_000))


def _rgba_png(width: int, height: int) -> bytes:
    """A valid, blank RGBA PNG of any size, compressed as it is written (a few MB at most)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    row = b"\x00" * (1 + 4 * width)
    compressor = zlib.compressobj(1)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


_MEASURE_DECODE = """
import resource, sys
from aircraftml.vision.image import decode_photo
data = sys.stdin.buffer.read()
before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    outcome = "x".join(map(str, decode_photo(data).image.size))
except Exception as exc:
    outcome = type(exc).__name__
peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb) // 1024
print(outcome, peak_mb)
"""


def _decode_in_a_fresh_process(data: bytes) -> tuple[str, int]:
    """What decoding ``data`` gives, and how many MB it added to the peak memory."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE_DECODE], input=data, capture_output=True, check=True
    )
    outcome, peak_mb = done.stdout.decode().split()
    return outcome, int(peak_mb)


def test_a_png_over_the_pixel_limit_is_refused_before_any_pixel_is_decoded() -> None:
    # Given a valid 12,000 x 12,000 RGBA PNG of 2.5 MB (576 MB once decoded)
    bomb = _rgba_png(12_000, 12_000)
    # When decoded / Then it is refused as too large, having cost almost no memory
    outcome, peak_mb = _decode_in_a_fresh_process(bomb)
    assert outcome == "PhotoTooLarge"
    assert peak_mb < 40  # it cost +552 MB when EXIF was read before the pixel check


def test_a_large_rgba_photo_is_reduced_before_it_is_converted() -> None:
    # Given a 39 MP RGBA PNG (156 MB of decoded pixels)
    photo = _rgba_png(7_200, 5_400)
    # When decoded / Then it comes out reduced to the working size
    outcome, peak_mb = _decode_in_a_fresh_process(photo)
    assert outcome == "800x600"
    # And the decode held little more than its decoded pixels (it peaked at +744 MB)
    assert peak_mb < 250


def _with_declared_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with its frame header (SOF0 or SOF2) declaring ``width`` x ``height``."""
    start = max(jpeg.find(b"\xff\xc0"), jpeg.find(b"\xff\xc2"))
    size = struct.pack(">HH", height, width)
    return jpeg[: start + 5] + size + jpeg[start + 9 :]


def test_a_huge_progressive_jpeg_is_refused_before_decoding() -> None:
    # Given a progressive JPEG declaring 10,000 x 10,000 pixels (a real one of 587 KB cost
    # +295 MB to decode, even at 1/8 scale), and a baseline one declaring the same
    small = Image.new("RGB", (16, 16), (120, 160, 220))
    progressive = _encode(small, "JPEG", progressive=True)
    baseline = _encode(small, "JPEG")
    # When decoded / Then the progressive one is refused on its header
    with pytest.raises(PhotoTooLarge, match="progressive JPEG of 10000x10000"):
        decode_photo(_with_declared_size(progressive, 10_000, 10_000))
    # And the baseline one is not refused for its size: it decodes at 1/8 scale
    photo = decode_photo(_with_declared_size(baseline, 10_000, 10_000))
    assert (photo.width, photo.image.width) == (10_000, 1_250)


def test_a_reduced_png_keeps_the_full_size_and_its_scale() -> None:
    # Given a 2,400 x 1,600 PNG with a red square in its top-left corner
    image = Image.new("RGB", (2_400, 1_600), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 600, 600))
    # When decoded with the default working size
    photo = decode_photo(_encode(image, "PNG"))
    # Then it is reduced 3x, knows its full size, and the square is where it was
    assert photo.image.size == (800, 534) and (photo.width, photo.height) == (2_400, 1_600)
    assert photo.scale == pytest.approx(1 / 3)
    assert photo.image.getpixel((190, 190)) == (255, 0, 0)
    assert photo.image.getpixel((210, 210)) == (0, 0, 255)


def test_animated_gif_uses_the_first_frame() -> None:
    # Given an animated GIF whose first frame is red and second blue
    frames = [Image.new("RGB", (64, 48), (255, 0, 0)), Image.new("RGB", (64, 48), (0, 0, 255))]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    # When decoded
    photo = decode_photo(data)
    # Then the first frame comes back as RGB
    assert photo.image.mode == "RGB"
    assert photo.image.getpixel((10, 10)) == (255, 0, 0)


def test_cmyk_jpeg_becomes_rgb() -> None:
    # Given a CMYK JPEG of pure cyan
    data = _encode(Image.new("CMYK", (80, 60), (255, 0, 0, 0)), "JPEG", quality=95)
    # When decoded
    photo = decode_photo(data)
    # Then it is RGB and cyan-ish
    red, green, blue = photo.image.getpixel((40, 30))  # type: ignore[misc]
    assert photo.image.mode == "RGB"
    assert red < 40 and green > 200 and blue > 200


def test_sixteen_bit_grayscale_png_is_scaled_to_eight_bits() -> None:
    # Given a 16-bit grayscale gradient from 0 to 65535
    ramp = np.tile(np.linspace(0, 65535, 256, dtype=np.uint16), (16, 1))
    data = _encode(Image.fromarray(ramp), "PNG")
    # When decoded
    photo = decode_photo(data)
    # Then the gradient spans the 8-bit range instead of saturating
    row = np.asarray(photo.image)[8, :, 0]
    assert photo.image.mode == "RGB"
    assert row[0] == 0 and row[-1] == 255
    assert 120 <= row[128] <= 135


def test_grayscale_and_palette_with_transparency_become_rgb() -> None:
    # Given a grayscale JPEG and a palette PNG with a transparent colour
    gray = _encode(Image.new("L", (32, 32), 128), "JPEG")
    palette = Image.new("P", (32, 32), 0)
    palette.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    palette.info["transparency"] = 0
    # When decoded / Then both are RGB; the transparent area is white
    assert decode_photo(gray).image.getpixel((5, 5)) == (128, 128, 128)
    assert decode_photo(_encode(palette, "PNG", transparency=0)).image.getpixel((5, 5)) == (
        255,
        255,
        255,
    )


def test_webp_decodes() -> None:
    data = _encode(Image.new("RGB", (50, 40), (0, 200, 0)), "WEBP", lossless=True)
    photo = decode_photo(data)
    assert (photo.width, photo.height) == (50, 40)
    assert photo.image.getpixel((25, 20)) == (0, 200, 0)


def test_exif_rotated_jpeg_is_made_upright() -> None:
    # Given a 200x100 sensor image, left half dark and right half light, stored with
    # orientation 6 (the camera was turned: display rotated 90 degrees clockwise)
    sensor = Image.new("RGB", (200, 100), (230, 230, 230))
    sensor.paste((20, 20, 20), (0, 0, 100, 100))
    # When decoded
    photo = decode_photo(_jpeg_with_orientation(sensor, 6))
    # Then the photo is as the user sees it: 100 wide, 200 tall, dark half on top
    assert (photo.width, photo.height) == (100, 200)
    assert photo.image.size == (100, 200)
    assert sum(photo.image.getpixel((50, 40))) < 150  # type: ignore[arg-type]
    assert sum(photo.image.getpixel((50, 160))) > 600  # type: ignore[arg-type]


def test_large_jpeg_is_decoded_at_reduced_scale_with_the_full_size_kept() -> None:
    # Given a 4,000 x 3,000 JPEG
    data = _encode(Image.new("RGB", (4000, 3000), (90, 90, 200)), "JPEG")
    # When decoded for a working size of at least 1,000 pixels
    photo = decode_photo(data, max_side_px=1000)
    # Then the decoder reduced it by a power of two, no further than needed
    assert (photo.width, photo.height) == (4000, 3000)
    assert photo.image.size == (1000, 750)
    assert photo.scale == pytest.approx(0.25)


def test_a_full_hd_photo_is_decoded_at_half_size_by_default() -> None:
    # Given a 1,920 x 1,080 JPEG, the usual size of a photo posted to X
    data = _encode(Image.new("RGB", (1920, 1080), (90, 90, 200)), "JPEG")
    # When decoded with the default working size
    photo = decode_photo(data)
    # Then it is decoded at half size (a quarter of the pixels), still longer than the
    # default working size, with the full size kept for the boxes
    assert photo.image.size == (960, 540) and DEFAULT_MAX_SIDE_PX <= 960
    assert (photo.width, photo.height) == (1920, 1080)


def test_rotated_large_jpeg_keeps_scale_consistent_with_the_upright_size() -> None:
    data = _jpeg_with_orientation(Image.new("RGB", (4000, 2000), (0, 0, 0)), 8)
    photo = decode_photo(data, max_side_px=1000)
    assert (photo.width, photo.height) == (2000, 4000)
    assert photo.image.size == (500, 1000)
    assert photo.scale == pytest.approx(0.25)
