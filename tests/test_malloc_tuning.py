"""Freed memory is kept for the next photo: decoding again costs no page faults."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aircraftml.malloc_tuning import keep_freed_memory

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not keep_freed_memory(),
    reason="mallopt is glibc's (Linux)",
)

# Decodes a photo 5 times after a warm-up and prints the minor page faults per decode.
_PROBE = """
import json, resource, sys
from aircraftml.malloc_tuning import keep_freed_memory
from aircraftml.vision.image import decode_photo
if sys.argv[2] == "tuned":
    keep_freed_memory()
data = open(sys.argv[1], "rb").read()
decode_photo(data)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    decode_photo(data)
after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
print(json.dumps((after - before) / 5))
"""


def _faults_per_decode(photo: Path, mode: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(photo), mode],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return float(json.loads(out.stdout))


@glibc_only
def test_decoding_again_reuses_the_memory_freed_by_the_last_photo(tmp_path: Path) -> None:
    # Given a 2400x1600 progressive JPEG full of detail (its decoder holds every coefficient)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (1600, 2400, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(noise).save(out, format="JPEG", quality=90, progressive=True)
    photo = tmp_path / "progressive.jpg"
    photo.write_bytes(out.getvalue())
    # When it is decoded again and again, with glibc's defaults and with the tuning
    default = _faults_per_decode(photo, "default")
    tuned = _faults_per_decode(photo, "tuned")
    # Then by default every decode maps fresh pages; tuned, the freed blocks are reused
    assert default > 1000
    assert tuned < default / 20


def test_applying_twice_is_harmless() -> None:
    first = keep_freed_memory()
    assert keep_freed_memory() is first
