"""The try-a-photo page and ``POST /api/recognize``, in process, with the real recognizer."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from PIL import Image
from starlette.testclient import TestClient

from aircraftml.cli import main as cli
from aircraftml.demo import draw_airliner
from aircraftml.vision.recognizer import Recognizer
from aircraftml.web.app import TryPage, create_web_app
from aircraftml.web.limits import UploadLimits
from web_support import png_header_only


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer.load()


def make_client(recognizer: Recognizer, **limits: int) -> TestClient:
    page = TryPage(recognizer, UploadLimits(**limits))
    return TestClient(create_web_app(page))


@pytest.fixture
def client(recognizer: Recognizer) -> Iterator[TestClient]:
    with make_client(recognizer) as test_client:
        yield test_client


def test_page_is_a_plain_form_from_this_host_only(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    # a form that works without JavaScript, a file input that takes the phone's camera
    assert '<form id="upload" method="post" action="/" enctype="multipart/form-data">' in html
    assert 'type="file" accept="image/*"' in html
    assert 'name="viewport"' in html
    # nothing from another host, and the browser is told so
    assert not re.search(r"""(src|href|action)=["']?(https?:)?//""", html)
    assert "default-src 'none'" in response.headers["content-security-policy"]
    for asset in ("/static/style.css", "/static/app.js"):
        assert asset in html
        assert client.get(asset).status_code == 200


def test_api_answers_the_json_of_classify_plus_the_bots_words(client: TestClient, tmp_path) -> None:
    # Given the drawing of an airliner, as a file and as an upload
    photo = draw_airliner()
    (tmp_path / "airliner.png").write_bytes(photo)
    # When it is classified by the CLI and sent to the API
    printed = CliRunner().invoke(cli, ["classify", "--json", str(tmp_path / "airliner.png")])
    response = client.post("/api/recognize", files={"photo": ("airliner.png", photo, "image/png")})
    # Then both say the same, but for the timings, and the API adds the bot's words
    assert response.status_code == 200, response.text
    api = response.json()
    expected = json.loads(printed.output)
    expected["image"] = "airliner.png"
    bot = api.pop("bot")
    assert api.pop("timings_ms").keys() == expected.pop("timings_ms").keys()
    assert api == expected
    assert len(api["aircraft"]) == 1
    assert bot["reply"].startswith("I see one aircraft: ")
    assert bot["aircraft"][0]["label"].startswith("1 ")
    assert bot["alt_text"].startswith("The photo with 1 aircraft")
    assert response.headers["cache-control"] == "no-store"


def test_api_takes_a_raw_image_body_too(client: TestClient) -> None:
    response = client.post(
        "/api/recognize", content=draw_airliner(), headers={"content-type": "image/png"}
    )
    assert response.status_code == 200
    assert response.json()["image"] == "upload"


def test_form_without_javascript_gets_the_answer_as_a_page_with_names_escaped(
    client: TestClient,
) -> None:
    # Given a file name that is HTML
    name = "<img src=x onerror=alert(1)>.png"
    # When the plain form is posted
    response = client.post("/", files={"photo": (name, draw_airliner(), "image/png")})
    # Then the page shows the annotated photo inline and the name as text
    assert response.status_code == 200
    html = response.text
    assert '<img src="data:image/jpeg;base64,' in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in html
    assert "The reply on X would say" in html
    assert 'class="said"' in html
    data_url = re.search(r'src="data:image/jpeg;base64,([^"]+)"', html)
    assert data_url is not None


def test_too_many_bytes_is_refused_before_the_body_is_read(recognizer: Recognizer) -> None:
    with make_client(recognizer, max_bytes=2048) as small:
        response = small.post(
            "/api/recognize", content=b"\xff" * 100_000, headers={"content-type": "image/jpeg"}
        )
    assert response.status_code == 413
    assert response.json() == {"error": "photo over 2,048 bytes"}
    assert response.headers["connection"] == "close"


def test_too_many_pixels_is_refused_on_the_header(client: TestClient) -> None:
    response = client.post(
        "/api/recognize", files={"photo": ("bomb.png", png_header_only(9000, 9000), "image/png")}
    )
    assert response.status_code == 422
    assert "9000x9000 pixels" in response.json()["error"]


def test_not_a_photo_is_refused_in_words(client: TestClient) -> None:
    response = client.post("/api/recognize", files={"photo": ("notes.txt", b"hello", "text/plain")})
    assert response.status_code == 422
    assert response.json()["error"].startswith("could not read that photo: not an image")
    missing = client.post("/api/recognize", files={"other": ("a.png", b"x", "image/png")})
    assert missing.status_code == 400
    assert "'photo'" in missing.json()["error"]


def test_a_client_over_its_rate_gets_429_with_retry_after(recognizer: Recognizer) -> None:
    small = _tiny_png()
    with make_client(recognizer, per_client_per_minute=2) as limited:
        codes = [
            limited.post("/api/recognize", content=small, headers={"content-type": "image/png"})
            for _ in range(3)
        ]
    assert [r.status_code for r in codes] == [200, 200, 429]
    # one token takes 60 s / 2, less what refilled while the machine recognised
    assert 1 <= int(codes[2].headers["retry-after"]) <= 30


def test_at_the_concurrency_cap_the_next_photo_gets_503(recognizer: Recognizer) -> None:
    page = TryPage(recognizer, UploadLimits(max_concurrent=1))
    with TestClient(create_web_app(page)) as busy:
        assert page.cap.try_acquire()  # a recognition in hand
        refused = busy.post(
            "/api/recognize", content=_tiny_png(), headers={"content-type": "image/png"}
        )
        page.cap.release()
        accepted = busy.post(
            "/api/recognize", content=_tiny_png(), headers={"content-type": "image/png"}
        )
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "2"
    assert accepted.status_code == 200


def _tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 160, 220)).save(out, format="PNG")
    return out.getvalue()
