"""Photos made for testing the registration reader: a registration painted on a drawn
fuselage, in many fonts, sizes, angles and contrasts, among the other words painted on
aircraft (airline names, the maker's name, flight numbers, door markings).

Each ``Sample`` knows the truth: the registration painted (or None: only distractors), and
whether it is legible (tall enough and with enough contrast that a person would read it).
The tests and ``benchmarks/bench_registration.py`` draw from here, so both judge the reader
on the same kind of picture. Fonts: DejaVu where the machine has it, else Pillow's own.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
FONT_FILES = (
    "DejaVuSans-Bold.ttf",
    "DejaVuSans.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
)
# Registration templates: l a letter, u a letter the FAA issues (no I, O), d a digit, # 1-9.
TEMPLATES = (
    "F-llll",
    "G-llll",
    "D-Alll",
    "I-llll",
    "C-Flll",
    "C-Glll",
    "N#dduu",
    "N#dddu",
    "N#ddd",
    "N#dddd",
    "JA#ddd",
    "JA#ddu",
    "B-#ddd",
    "B-Hll",
    "VH-lll",
    "9V-Sll",
    "A6-Ell",
    "EC-lll",
    "PH-lll",
    "HB-lll",
    "EI-lll",
    "HL#ddd",
    "4O-lll",
    "TC-lll",
    "9M-lll",
    "HS-lll",
    "VT-lll",
    "ZS-lll",
    "PR-lll",
    "OE-lll",
    "SE-lll",
    "RA-ddddd",
    "ZK-lll",
    "A7-lll",
    "CS-lll",
)
DISTRACTORS = (
    "BOEING",
    "AIRBUS",
    "EMBRAER",
    "EXIT",
    "PUSH",
    "RESCUE",
    "DANGER",
    "NO STEP",
    "DELTA",
    "SKYLINE AIRWAYS",
    "NORDIC AIR",
    "AIR ORIENT",
    "FLY EURO",
    "BA 123",
    "LH400",
    "AF1234",
    "EK 201",
    "QF1",
    "737-800",
    "A320neo",
    "ERJ 145",
    "CARGO",
    "OPEN",
    "TOW",
    "JET A-1",
    "EXIT 2",
    "FIRE",
    "ONE WORLD",
    "STAR ALLIANCE",
    "G O",
    "SEE INSIDE",
)
FUSELAGE_COLOURS = (
    (245, 245, 245),
    (230, 232, 236),
    (255, 255, 255),
    (210, 214, 220),
    (20, 40, 110),
    (180, 20, 30),
    (40, 40, 45),
    (0, 110, 90),
)
SKY_COLOURS = ((120, 170, 225), (180, 200, 220), (90, 140, 200), (200, 205, 210))
# Legible: letters at least this tall in the photo, at a contrast a person reads easily.
LEGIBLE_HEIGHT_PX = 14
LEGIBLE_CONTRAST = 90  # difference of luminance, 0..255


@dataclass(frozen=True, slots=True)
class Sample:
    """A rendered photo (JPEG bytes), the aircraft's box in it, the registration painted
    (None when only distractors are) and whether it is legible."""

    jpeg: bytes
    box: tuple[int, int, int, int]
    truth: str | None
    legible: bool
    text_height_px: int


def random_registration(rng: random.Random) -> str:
    template = rng.choice(TEMPLATES)
    out = []
    for ch in template:
        if ch == "l":
            out.append(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        elif ch == "u":
            out.append(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ"))
        elif ch == "d":
            out.append(rng.choice("0123456789"))
        elif ch == "#":
            out.append(rng.choice("123456789"))
        else:
            out.append(ch)
    return "".join(out)


def samples(count: int, *, seed: int = 0, with_registration: float = 0.75) -> Iterator[Sample]:
    """``count`` photos; about ``with_registration`` of them carry a registration."""
    rng = random.Random(seed)
    for _ in range(count):
        truth = random_registration(rng) if rng.random() < with_registration else None
        yield render_sample(rng, truth)


def render_sample(rng: random.Random, truth: str | None) -> Sample:
    """One photo: sky, a fuselage with windows, a cheatline and a door, the registration
    (when given) near the tail, distractors elsewhere; rotated a little, blurred a little,
    saved as a JPEG."""
    width, height = rng.choice(((1600, 900), (1200, 800), (2000, 1200), (900, 600)))
    sky = rng.choice(SKY_COLOURS)
    image = Image.new("RGB", (width, height), sky)
    draw = ImageDraw.Draw(image)
    body = rng.choice(FUSELAGE_COLOURS)
    fuselage_h = round(height * rng.uniform(0.22, 0.4))
    top = round(height * rng.uniform(0.25, 0.45))
    left, right = round(width * 0.03), round(width * 0.97)
    draw.rounded_rectangle((left, top, right, top + fuselage_h), radius=fuselage_h // 2, fill=body)
    _draw_details(draw, rng, (left, top, right, top + fuselage_h), body)
    text_height = round(fuselage_h * rng.uniform(0.06, 0.2))
    ink = _ink_for(rng, body)
    if truth is not None:
        _paint(image, rng, truth, text_height, ink, _rear_spot(rng, (left, top, right), fuselage_h))
    rows = rng.sample((0.04, 0.4, 0.72), k=rng.randint(1, 3))
    for row in rows:  # distractors on the front half, one to a row
        word = rng.choice(DISTRACTORS)
        x = round(left + fuselage_h * 0.6 + (right - left) * rng.uniform(0.0, 0.15))
        y = round(top + fuselage_h * row)
        size = round(fuselage_h * rng.uniform(0.06, 0.2))
        _paint(image, rng, word, size, _ink_for(rng, body), (x, y))
    image = _photographed(image, rng)
    contrast = abs(_luminance(ink) - _luminance(body))
    legible = (
        truth is not None and text_height >= LEGIBLE_HEIGHT_PX and (contrast >= LEGIBLE_CONTRAST)
    )
    box = (left, max(0, top - fuselage_h // 4), right, min(height, top + fuselage_h + 10))
    return Sample(_jpeg(image, rng), box, truth, legible, text_height)


def _draw_details(
    draw: ImageDraw.ImageDraw,
    rng: random.Random,
    body: tuple[int, int, int, int],
    colour: tuple[int, int, int],
) -> None:
    left, top, right, bottom = body
    h = bottom - top
    stripe = rng.choice(((200, 30, 40), (20, 60, 150), (240, 180, 0), (90, 90, 90)))
    y = top + round(h * rng.uniform(0.55, 0.7))
    draw.rectangle((left + h // 3, y, right - h // 3, y + max(2, h // 14)), fill=stripe)
    window = max(3, h // 12)
    wy = top + round(h * 0.3)
    dark = (40, 45, 55) if _luminance(colour) > 100 else (200, 205, 215)
    for wx in range(left + h, right - h, window * 3):
        draw.rounded_rectangle((wx, wy, wx + window, wy + round(window * 1.4)), radius=2, fill=dark)
    door_x = left + round(h * 0.9)
    draw.rectangle((door_x, top + h // 6, door_x + h // 4, bottom - h // 6), outline=dark, width=2)


def _rear_spot(
    rng: random.Random, body: tuple[int, int, int], fuselage_h: int
) -> Callable[[int], tuple[int, int]]:
    """Where the registration goes, given its width: on the rear half, between the windows
    and the cheatline, ending before the tail cone."""
    left, top, right = body

    def at(text_w: int) -> tuple[int, int]:
        first = left + (right - left) // 2
        last = max(first, right - fuselage_h // 2 - text_w)
        return rng.randint(first, last), round(top + fuselage_h * rng.uniform(0.42, 0.5))

    return at


def _paint(
    image: Image.Image,
    rng: random.Random,
    text: str,
    height_px: int,
    ink: tuple[int, int, int],
    at: tuple[int, int] | Callable[[int], tuple[int, int]],
) -> None:
    """``text`` about ``height_px`` tall (capital height), rotated up to 8 degrees, at a
    place given or chosen from its width."""
    font = _font(rng, round(height_px * 1.35))
    probe = ImageDraw.Draw(image)
    x0, y0, x1, y1 = (round(v) for v in probe.textbbox((0, 0), text, font=font))
    layer = Image.new("L", (x1 - x0 + 8, y1 - y0 + 8), 0)
    ImageDraw.Draw(layer).text((4 - x0, 4 - y0), text, font=font, fill=255)
    layer = layer.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BICUBIC, expand=True)
    where = at if isinstance(at, tuple) else at(layer.width)
    image.paste(Image.new("RGB", layer.size, ink), where, layer)


def _font(rng: random.Random, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    files = [d / name for d in FONT_DIRS for name in FONT_FILES if (d / name).exists()]
    choice = rng.randrange(len(files) + 1)
    if choice == len(files):
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(str(files[choice]), size)


def _ink_for(rng: random.Random, body: tuple[int, int, int]) -> tuple[int, int, int]:
    """Dark ink on light paint and light on dark, sometimes faint (low contrast)."""
    light = _luminance(body) > 128
    faint = rng.random() < 0.15
    if light:
        shade = rng.randint(120, 175) if faint else rng.randint(0, 70)
        return (shade, shade, shade + 10) if rng.random() < 0.6 else (20, 50, 140)
    shade = rng.randint(90, 140) if faint else rng.randint(215, 255)
    return (shade, shade, shade)


def _photographed(image: Image.Image, rng: random.Random) -> Image.Image:
    blur = rng.choice((0, 0, 0.6, 1.0))
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    return image


def _jpeg(image: Image.Image, rng: random.Random) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=rng.randint(70, 92))
    return out.getvalue()


def _luminance(rgb: tuple[int, int, int]) -> float:
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b
