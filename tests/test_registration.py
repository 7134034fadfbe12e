"""The registration reader, with the real OCR models, on photos made for it (registrations
painted on drawn fuselages among airline names, makers' names, flight numbers and door
markings) and, where ``../shared/data/photos`` exists, on the ERJ-145 photo (F-GUBC)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from aircraftml.vision.image import decode_photo
from aircraftml.vision.registration import PhotoSource, Registration, RegistrationReader
from aircraftml.vision.registration_samples import FONT_DIRS, samples

pytest.importorskip("rapidocr_onnxruntime", reason="needs the registration extra")

SHARED_PHOTOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "photos"


@pytest.fixture(scope="module")
def reader() -> Iterator[RegistrationReader]:
    yield RegistrationReader.load(threads=1)


def _fuselage(
    *words: tuple[str, tuple[int, int], int], size: tuple[int, int] = (1400, 700)
) -> bytes:
    """A white fuselage in a blue sky with ``(text, (x, y), capital height px)`` painted."""
    image = Image.new("RGB", size, (120, 170, 225))
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.rounded_rectangle(
        (40, height // 3, width - 40, height // 3 + 220), radius=110, fill=(245, 245, 245)
    )
    for x in range(200, width - 200, 36):
        draw.rounded_rectangle(
            (x, height // 3 + 60, x + 14, height // 3 + 80), radius=3, fill=(40, 45, 55)
        )
    for text, at, cap_px in words:
        draw.text(at, text, fill=(20, 20, 30), font=_font(round(cap_px * 1.35)))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for folder in FONT_DIRS:
        if (folder / "DejaVuSans-Bold.ttf").exists():
            return ImageFont.truetype(str(folder / "DejaVuSans-Bold.ttf"), size)
    return ImageFont.load_default(size=size)


def _read(
    reader: RegistrationReader, jpeg: bytes, box: tuple[int, int, int, int]
) -> Registration | None:
    return reader.read(PhotoSource(decode_photo(jpeg), jpeg), box)


def test_a_painted_registration_is_read_with_its_country_and_where_it_is(
    reader: RegistrationReader,
) -> None:
    # Given a fuselage with an airline name on the front and F-GUBC on the rear
    jpeg = _fuselage(("SKYLINE AIRWAYS", (260, 330), 34), ("F-GUBC", (980, 350), 34))
    # When the aircraft's box is read
    registration = _read(reader, jpeg, (30, 200, 1370, 480))
    # Then it is F-GUBC, from France, sure, boxed where it was painted
    assert registration is not None
    assert (registration.text, registration.country) == ("F-GUBC", "France")
    assert registration.confidence >= 0.9
    painted = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox(
        (980, 350), "F-GUBC", font=_font(round(34 * 1.35))
    )
    assert all(abs(a - b) <= 16 for a, b in zip(registration.box, painted, strict=True))


def test_words_painted_on_aircraft_are_not_taken_for_registrations(
    reader: RegistrationReader,
) -> None:
    # Given only a maker's name, a flight number, a door marking and a word like D-ELTA
    jpeg = _fuselage(
        ("BOEING", (260, 330), 34),
        ("AF1234", (700, 330), 30),
        ("EXIT", (1000, 350), 24),
        ("DELTA", (600, 400), 30),
    )
    # Then no registration is shown
    assert _read(reader, jpeg, (30, 200, 1370, 480)) is None


def test_text_outside_the_box_is_not_read(reader: RegistrationReader) -> None:
    jpeg = _fuselage(("G-EUPT", (980, 350), 34))
    assert _read(reader, jpeg, (30, 200, 700, 480)) is None


def test_rendered_photos_in_many_fonts_sizes_angles_and_contrasts(
    reader: RegistrationReader,
) -> None:
    # Given 16 rendered photos (some with only distractors, some barely legible)
    batch = list(samples(16, seed=3))
    shown = [(s, _read(reader, s.jpeg, s.box)) for s in batch]
    # Then every registration shown is the one painted, and most legible ones are read
    wrong = [(s.truth, r.text) for s, r in shown if r is not None and r.text != s.truth]
    assert wrong == []
    legible = [(s, r) for s, r in shown if s.legible]
    read_right = sum(1 for s, r in legible if r is not None and r.text == s.truth)
    assert len(legible) >= 8
    assert read_right >= 0.6 * len(legible)


@pytest.mark.shared
def test_the_shared_erj_145_photo_shows_f_gubc(reader: RegistrationReader) -> None:
    path = SHARED_PHOTOS / "embraer-erj-145.jpg"
    if not path.exists():
        pytest.skip("needs ../shared/data/photos")
    data = path.read_bytes()
    # The box the shipped detector finds around the aircraft
    registration = _read(reader, data, (14, 4, 746, 465))
    assert registration is not None
    assert (registration.text, registration.country) == ("F-GUBC", "France")
    x0, y0, x1, _ = registration.box
    assert 430 <= x0 <= 470 and 510 <= x1 <= 550 and 200 <= y0 <= 240


def test_aircraft_too_small_to_carry_a_legible_registration_are_not_read(
    reader: RegistrationReader,
) -> None:
    # Given a registration that can be read inside a box 190 px long
    jpeg = _fuselage(("G-EUPT", (980, 350), 24))
    source = PhotoSource(decode_photo(jpeg), jpeg)
    small, large = (960, 330, 1150, 400), (30, 200, 1370, 480)
    legible = reader.read(source, small)
    assert legible is not None and legible.text == "G-EUPT"
    # When the photo's aircraft are read, that box is below the 200 px an aircraft needs
    found = reader.read_all(source, [small, large])
    # Then only the large one is read
    assert found[0] is None
    assert found[1] is not None and found[1].text == "G-EUPT"


def test_a_photo_too_large_to_decode_at_full_size_is_read_from_the_reduced_copy() -> None:
    # Given a 41-megapixel JPEG: the detector's copy decodes at 1/8, full size is refused
    image = Image.new("RGB", (8200, 5000), (120, 170, 225))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=50)
    jpeg = out.getvalue()
    photo = decode_photo(jpeg)
    assert photo.scale < 0.2
    # When the reader wants a 1,000 px aircraft box at more pixels than the copy has
    region = PhotoSource(photo, jpeg).region((1000, 1000, 2000, 1500), 1152)
    # Then it works from the copy it has instead of refusing the photo
    assert region is not None
    assert region.bgr.shape[1] > 1000
