"""Draw what was found onto a copy of the photo: numbered boxes with type and confidence,
sized so the labels stay legible when the picture is shown on a phone."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from aircraftml.vision.recognizer import FoundAircraft, Recognition

# Colours that stay visible against sky, tarmac and grass; aircraft n gets colour n.
PALETTE = ((230, 25, 75), (0, 130, 200), (245, 130, 48), (60, 180, 75), (145, 30, 180))
MAX_SIDE_PX = 2048  # X shows images up to 4096 px; 2048 keeps uploads small and sharp
MIN_SIDE_PX = 720  # small photos are enlarged so the labels do not swamp them
LABEL_HEIGHT_FRACTION = 0.035  # label text height relative to the long side


def annotate(recognition: Recognition) -> Image.Image:
    """A copy of the photo with each aircraft's box, number, best type and confidence."""
    photo = recognition.photo
    canvas = _display_copy(photo.image)
    to_canvas = canvas.width / photo.width
    long_side = max(canvas.size)
    font = ImageFont.load_default(size=max(14, round(long_side * LABEL_HEIGHT_FRACTION)))
    line_px = max(2, round(long_side / 320))
    draw = ImageDraw.Draw(canvas)
    for number, found in enumerate(recognition.aircraft, start=1):
        colour = PALETTE[(number - 1) % len(PALETTE)]
        x0, y0, x1, y1 = (round(v * to_canvas) for v in found.box)
        draw.rectangle((x0, y0, x1, y1), outline=colour, width=line_px)
        if found.registration is not None:
            rx0, ry0, rx1, ry1 = (round(v * to_canvas) for v in found.registration.box)
            pad = line_px * 2
            draw.rectangle(
                (rx0 - pad, ry0 - pad, rx1 + pad, ry1 + pad), outline=colour, width=line_px
            )
        _draw_label(draw, font, (x0, y0), label_text(number, found), colour, canvas.size)
    return canvas


def label_text(number: int, found: FoundAircraft) -> str:
    """``"1 Boeing 747 91%"``: the aircraft's number (left to right) and what the bot names
    it: a type, or the family ("2 Airbus A320 family 90%") or maker it is sure of, a best
    guess with a question mark when it is sure of nothing, or "unknown type"; then the
    registration when it was read (a small box is drawn around it too), and the registry's
    exact type instead of the guess when the registry knows it ("1 Airbus A320-214 D-AIZA")."""
    registration = found.registration
    if registration is not None and found.registered_type:
        return f"{number} {found.registered_type} {registration.text}"
    named = _type_label(number, found)
    return f"{named} {registration.text}" if registration is not None else named


def _type_label(number: int, found: FoundAircraft) -> str:
    if not found.types:
        return f"{number} aircraft"
    named = found.named
    if named.level == "unknown":
        return f"{number} unknown type"
    doubt = "?" if named.level == "unsure" else ""  # a guess, not a claim
    return f"{number} {named.label}{doubt} {named.confidence:.0%}"


def encode_jpeg(image: Image.Image, *, quality: int = 85) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _display_copy(image: Image.Image) -> Image.Image:
    long_side = max(image.size)
    target = min(max(long_side, MIN_SIDE_PX), MAX_SIDE_PX)
    if target == long_side:
        return image.copy()
    factor = target / long_side
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _draw_label(
    draw: ImageDraw.ImageDraw,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    anchor: tuple[int, int],
    text: str,
    colour: tuple[int, int, int],
    canvas_size: tuple[int, int],
) -> None:
    """A filled tag above the box's top-left corner (inside the box when at the top edge),
    kept within the picture."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = max(3, (bottom - top) // 5)
    tag_w, tag_h = right - left + 2 * pad, bottom - top + 2 * pad
    x = min(max(anchor[0], 0), max(canvas_size[0] - tag_w, 0))
    y = anchor[1] - tag_h if anchor[1] - tag_h >= 0 else anchor[1]
    y = min(y, max(canvas_size[1] - tag_h, 0))
    draw.rectangle((x, y, x + tag_w, y + tag_h), fill=colour)
    draw.text((x + pad - left, y + pad - top), text, font=font, fill=(255, 255, 255))
